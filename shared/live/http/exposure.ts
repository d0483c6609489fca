/**
 * The dashboard's HTTP exposure, for when it is reachable beyond this
 * machine. The dashboard has no authentication: `--public` (the default
 * when `--host` is not a loopback address) serves only the page and its
 * read APIs, with generic error bodies and a `/healthz` that says only
 * `ok` or `down`; the health details and `/metrics` move to a listener of
 * their own (`--admin-host`, loopback by default). `/api/reconcile`, a full
 * BigQuery scan when on, answers only requests whose `Host` is one of the
 * dashboard's own names (`--allowed-hosts`: no DNS rebinding) and that a
 * browser did not send from another site (`Sec-Fetch-Site`).
 *
 * @module
 */

import { boolean, integer, type Option, type RawValues, text } from "../../cli/options.ts";

/** A request handler. */
export type Handler = (request: Request) => Response | Promise<Response>;

/** Whether `host` (a name or address, IPv6 with or without brackets) is this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return bare === "localhost" || bare === "::1" || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Whether the raw options ask for `--public`: given (flag or variable), or
 * by default when `--host` is not a loopback address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publicByDefault } from "./exposure.ts";
 * assert.equal(publicByDefault({}), false);
 * assert.equal(publicByDefault({ host: "0.0.0.0" }), true);
 * assert.equal(publicByDefault({ host: "0.0.0.0", public: "false" }), false);
 * assert.equal(publicByDefault({ public: "true" }), true);
 * ```
 */
export function publicByDefault(raw: RawValues): boolean {
  if (raw.public !== undefined) {
    try {
      return boolean(raw.public);
    } catch {
      return false; // reported by the option's own parser
    }
  }
  return raw.host !== undefined && !isLoopbackHost(raw.host);
}

/**
 * Host names separated by commas, for `--allowed-hosts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostNames } from "./exposure.ts";
 * assert.deepEqual(hostNames("charts.example.com, 10.0.0.5"), ["charts.example.com", "10.0.0.5"]);
 * assert.throws(() => hostNames("a,,b"), /host names/);
 * ```
 */
export function hostNames(raw: string): string[] {
  const hosts = raw.split(",").map((part) => part.trim().toLowerCase());
  for (const host of hosts) {
    if (!/^(\[[0-9a-f:.]+\]|[0-9a-z.:-]{1,253})$/.test(host)) {
      throw new Error(`must be host names separated by commas, got ${JSON.stringify(raw)}`);
    }
  }
  return hosts;
}

/** `--public`, the admin listener and `--allowed-hosts`. */
export const exposureOptions = {
  public: {
    flag: "public",
    env: "DASHBOARD_PUBLIC",
    help: "Serve only the page and its read APIs, with generic errors (there is no " +
      "authentication); health details and /metrics go to --admin-host:--admin-port",
    fallback: publicByDefault,
    fallbackHelp: "true when --host is not a loopback address",
    parse: boolean,
  },
  adminHost: {
    flag: "admin-host",
    env: "DASHBOARD_ADMIN_HOST",
    arg: "HOST",
    help: "Address of the dashboard's /healthz details and /metrics when --public",
    fallback: "127.0.0.1",
    parse: text(/^[A-Za-z0-9.:-]{1,253}$/, "a host name or IP address"),
  },
  adminPort: {
    flag: "admin-port",
    env: "DASHBOARD_ADMIN_PORT",
    arg: "PORT",
    help: "Port of /healthz details and /metrics; 0 picks a free one",
    fallback: (raw: RawValues): number | undefined => publicByDefault(raw) ? 9465 : undefined,
    fallbackHelp: "9465 with --public, else unset (served on --port)",
    parse: integer(0, 65535),
  },
  allowedHosts: {
    flag: "allowed-hosts",
    env: "DASHBOARD_ALLOWED_HOSTS",
    arg: "HOST,...",
    help: "Host names /api/reconcile answers to, besides localhost, 127.0.0.1, ::1 and --host",
    fallback: [] as string[],
    parse: hostNames,
  },
} satisfies Record<string, Option<unknown>>;

/** The APIs `--public` serves (the page's own files are served too). */
export const PUBLIC_APIS: ReadonlySet<string> = new Set([
  "/api/top",
  "/api/top.json",
  "/api/top.csv",
  "/api/stream",
  "/api/overview",
  "/api/overview/stream",
  "/api/artists",
]);

/** Paths only the admin listener serves when public. */
const ADMIN_PATHS: ReadonlySet<string> = new Set(["/metrics"]);

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });
}

/** Generic bodies by status: what a public listener says instead of the details. */
function generic(status: number): Response {
  const error = status === 404
    ? "Not found"
    : status === 503
    ? "Unavailable, try again later"
    : "Internal error";
  return json({ error }, status);
}

/**
 * The public face of `inner`: the page's files and {@linkcode PUBLIC_APIS}
 * only; `/healthz` says `ok` or `down` and nothing else; a 404 or 5xx answer
 * gets a generic body (no error text, path or internal state).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publicHandler } from "./exposure.ts";
 * const inner = (request: Request) =>
 *   new URL(request.url).pathname === "/api/top"
 *     ? new Response("{}", { status: 500, statusText: "secret detail" })
 *     : new Response("page");
 * const handler = publicHandler(inner, { healthy: () => true });
 * assert.equal((await handler(new Request("http://x/api/reconcile"))).status, 404);
 * assert.equal((await handler(new Request("http://x/metrics"))).status, 404);
 * assert.deepEqual(await (await handler(new Request("http://x/api/top"))).json(), { error: "Internal error" });
 * assert.deepEqual(await (await handler(new Request("http://x/healthz"))).json(), { status: "ok" });
 * assert.equal(await (await handler(new Request("http://x/"))).text(), "page");
 * ```
 */
export function publicHandler(inner: Handler, options: { healthy: () => boolean }): Handler {
  return async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") {
      const healthy = options.healthy();
      return json({ status: healthy ? "ok" : "down" }, healthy ? 200 : 503);
    }
    if (ADMIN_PATHS.has(path) || (path.startsWith("/api/") && !PUBLIC_APIS.has(path))) {
      return generic(404);
    }
    const response = await inner(request);
    if (response.status === 404 || response.status >= 500) {
      await response.body?.cancel();
      return generic(response.status);
    }
    return response;
  };
}

/** Options of {@linkcode guardCostly}. */
export interface GuardOptions {
  /** Paths that cost money (a BigQuery scan). */
  paths: ReadonlySet<string>;
  /** Host names those paths answer to (lower case, IPv6 without brackets). */
  hosts: readonly string[];
}

/** The host of a `Host` header, lower case, without its port or IPv6 brackets. */
function hostOfHeader(value: string): string {
  const host = value.trim().toLowerCase();
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]"));
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * The host names a dashboard on `host` answers costly requests to: the
 * loopback names, `host` itself (unless it is a wildcard address) and
 * `allowed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ownHostNames } from "./exposure.ts";
 * assert.deepEqual(ownHostNames("0.0.0.0", ["charts.example.com"]), ["localhost", "127.0.0.1", "::1", "charts.example.com"]);
 * ```
 */
export function ownHostNames(host: string, allowed: readonly string[] = []): string[] {
  const names = ["localhost", "127.0.0.1", "::1"];
  const own = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (own !== "0.0.0.0" && own !== "::" && own !== "") names.push(own);
  for (const name of allowed) names.push(name.replace(/^\[(.*)\]$/, "$1"));
  return [...new Set(names)];
}

/**
 * `inner`, with the paths that cost money refused (403) unless the request's
 * `Host` is one of `hosts` (a page on another name reached this address by
 * DNS rebinding) and no browser marked it as sent from another site
 * (`Sec-Fetch-Site: cross-site` or `same-site`: an `<img>` on another page).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { guardCostly } from "./exposure.ts";
 * const handler = guardCostly(() => new Response("scanned"), { paths: new Set(["/api/reconcile"]), hosts: ["127.0.0.1"] });
 * const ask = (host: string, site?: string) =>
 *   handler(new Request("http://x/api/reconcile", { headers: { host, ...(site ? { "sec-fetch-site": site } : {}) } }));
 * assert.equal((await ask("127.0.0.1:8080")).status, 200);
 * assert.equal((await ask("evil.example:8080")).status, 403);
 * assert.equal((await ask("127.0.0.1:8080", "cross-site")).status, 403);
 * assert.equal((await ask("127.0.0.1:8080", "same-origin")).status, 200);
 * ```
 */
export function guardCostly(inner: Handler, options: GuardOptions): Handler {
  return (request) => {
    const path = new URL(request.url).pathname;
    if (!options.paths.has(path)) return inner(request);
    const host = hostOfHeader(request.headers.get("host") ?? new URL(request.url).host);
    const site = request.headers.get("sec-fetch-site");
    if (!options.hosts.includes(host)) {
      return json({
        error: `${path} answers only to the dashboard's own host names (--allowed-hosts)`,
      }, 403);
    }
    if (site !== null && site !== "same-origin" && site !== "none") {
      return json({ error: `${path} is not served to requests from other sites` }, 403);
    }
    return inner(request);
  };
}
