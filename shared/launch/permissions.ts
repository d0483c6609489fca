/**
 * Permissions that follow configuration: what a script's parsed options need
 * from the runtime (addresses to connect to and listen on, files to read and
 * write, environment variables), turned into `deno run` grants. The launcher
 * (launch.ts) computes them from the same options the script will parse.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import type { Grant, Option } from "../cli/options.ts";

/** Addresses one option makes a script connect to. */
export interface Endpoint {
  /** The option as messages name it: `--brokers, KAFKA_BROKERS`. */
  label: string;
  /** Its flag without dashes. */
  flag: string;
  /** `host:port` as configured. */
  addresses: string[];
  /**
   * `kafka`: brokers, whose advertised addresses are reached too; `service`:
   * any other configured address; `cloud`: Google's hosts (not probed).
   */
  kind: "kafka" | "service" | "cloud";
}

/** What a script's configuration needs, before host names are resolved. */
export interface Needs {
  connect: Endpoint[];
  /** `host:port` to serve on. */
  listen: string[];
  read: string[];
  write: string[];
  /** Unix sockets to listen on and connect to, as `unix:` net grants of absolute paths. */
  sockets: string[];
  /** Environment variables: the options' and their libraries'. */
  env: string[];
  /** Values that cannot be one grant each, as messages naming their option (not granted). */
  problems: string[];
}

/**
 * Variables the libraries behind the options read, in addition to the
 * options' own: every script's, then by the prefix of an option's variable
 * (`KAFKA_`: kafkajs; `BIGQUERY_`/`GOOGLE_`: Google's clients and their HTTP
 * stack). The one list of them.
 */
export const LIBRARY_ENV: readonly { when: RegExp; names: readonly string[] }[] = [
  { when: /^/, names: ["LIVECHARTS_PROGRESS_MS", "NODE_ENV"] },
  {
    when: /^KAFKA_/,
    names: [
      "KAFKAJS_LOG_LEVEL",
      "KAFKAJS_NO_PARTITIONER_WARNING",
      "KAFKAJS_DEBUG_PROTOCOL_BUFFERS",
      "KAFKAJS_DEBUG_EXTENDED_PROTOCOL_BUFFERS",
    ],
  },
  {
    when: /^(BIGQUERY|GOOGLE)_/,
    names: [
      "GOOGLE_SDK_NODE_LOGGING",
      "DEBUG",
      "TEENY_REQUEST_WARN_CONCURRENT_REQUESTS",
      "READABLE_STREAM",
      "FUNCTION_NAME",
      "FAST_QUERY_PATH",
      "BIGQUERY_PICOSECOND_SUPPORT",
      "GRPC_VERBOSITY",
      "GRPC_TRACE",
      "GRPC_NODE_USE_ALTERNATIVE_RESOLVER",
      "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
      "GRPC_SSL_CIPHER_SUITES",
      "GRPC_NODE_VERBOSITY",
      "GRPC_NODE_TRACE",
      "GRPC_NODE_DEBUG_SEND_ERROR_DETAILS",
      "GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION",
      "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
      "GOOGLE_API_USE_CLIENT_CERTIFICATE",
      "HTTP_PROXY",
      "http_proxy",
      "HTTPS_PROXY",
      "https_proxy",
      "NO_PROXY",
      "no_proxy",
      "grpc_proxy",
      "no_grpc_proxy",
    ],
  },
];

/** Google's variable naming a service-account key: set, the scripts use real BigQuery. */
export const GOOGLE_CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS";

/** Hosts real BigQuery is reached on (REST, Storage Write API, tokens). */
export const GOOGLE_HOSTS: readonly string[] = [
  "bigquery.googleapis.com:443",
  "bigquerystorage.googleapis.com:443",
  "oauth2.googleapis.com:443",
  "www.googleapis.com:443",
];

/** Variables Google's authentication library reads with real credentials. */
export const GOOGLE_AUTH_ENV: readonly string[] = [
  "GOOGLE_CLOUD_PROJECT",
  "GCLOUD_PROJECT",
  "gcloud_project",
  "google_cloud_project",
  "GOOGLE_CLOUD_QUOTA_PROJECT",
  "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
  "GCE_METADATA_HOST",
  "GCE_METADATA_IP",
  "METADATA_SERVER_DETECTION",
  "CLOUDSDK_CONFIG",
];

/**
 * What `option` needs: its `grant`, else what its `arg` placeholder says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grantOf } from "./permissions.ts";
 * const base = { flag: "x", help: "", fallback: undefined, parse: String };
 * assert.equal(grantOf({ ...base, arg: "HOST:PORT,..." }), "connect");
 * assert.equal(grantOf({ ...base, arg: "FILE" }), "read");
 * assert.equal(grantOf({ ...base, arg: "FILE", grant: "write" }), "write");
 * assert.equal(grantOf({ ...base, arg: "NAME" }), "none");
 * ```
 */
export function grantOf(option: Option<unknown>): Grant {
  if (option.grant !== undefined) return option.grant;
  switch (option.arg) {
    case "HOST:PORT":
    case "HOST:PORT,...":
    case "URL":
      return "connect";
    case "PORT":
      return "listen";
    case "FILE":
      return "read";
    default:
      return "none";
  }
}

/**
 * Why `path` cannot be granted as exactly one file, or undefined when it
 * can: Deno joins list grants with commas, so a comma would grant a second
 * path; control characters (a newline) and empty values are refused too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathGrantProblem } from "./permissions.ts";
 * assert.equal(pathGrantProblem("/etc/kafka/ca.pem"), undefined);
 * assert.match(pathGrantProblem("ca.pem,/home")!, /one path without commas/);
 * assert.match(pathGrantProblem("ca.pem\n")!, /control characters/);
 * assert.match(pathGrantProblem(" ")!, /empty/);
 * ```
 */
export function pathGrantProblem(path: string): string | undefined {
  if (path.trim() === "") return `must be a file path, got an empty value`;
  if (path.includes(",")) {
    return `must be one path without commas (a comma would grant a second path), ` +
      `got ${JSON.stringify(path)}`;
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    return `must not contain control characters such as newlines, got ${JSON.stringify(path)}`;
  }
  return undefined;
}

/**
 * Why `address` cannot be granted as exactly one `host:port`, or undefined
 * when it can: a host name, an IPv4 address or a bracketed IPv6 address,
 * and a port from 0 to 65535; nothing else (no commas, no spaces, no empty
 * host).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressGrantProblem } from "./permissions.ts";
 * assert.equal(addressGrantProblem("kafka-1.example.com:9092"), undefined);
 * assert.equal(addressGrantProblem("[::1]:9092"), undefined);
 * assert.match(addressGrantProblem("evil.example,x:9050")!, /one host:port/);
 * assert.match(addressGrantProblem(":9092")!, /one host:port/);
 * assert.match(addressGrantProblem("a:99999")!, /port/);
 * ```
 */
export function addressGrantProblem(address: string): string | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/
    .exec(address);
  if (match === null) {
    return `must be one host:port (a host name or IP address, a port), got ${
      JSON.stringify(address)
    }`;
  }
  if (Number(match[2]) > 65535) {
    return `must have a port up to 65535, got ${JSON.stringify(address)}`;
  }
  return undefined;
}

/**
 * `path` made absolute against the working directory, without `.` parts
 * (Deno grants a Unix socket by its absolute path only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { absolutePath } from "./permissions.ts";
 * assert.equal(absolutePath("./.state/http.sock", "/srv/app"), "/srv/app/.state/http.sock");
 * assert.equal(absolutePath("/run/x.sock", "/srv/app"), "/run/x.sock");
 * ```
 */
export function absolutePath(path: string, cwd: string = Deno.cwd()): string {
  const joined = path.startsWith("/") ? path : `${cwd}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** `host` and `port` as a grant: IPv6 addresses in brackets. */
export function hostPort(host: string, port: number | string): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

/**
 * The `host:port` addresses a connect option's value names: a list, a
 * comma-separated text or a URL (its port, or 80/443).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressesOf } from "./permissions.ts";
 * assert.deepEqual(addressesOf(["a:1", "b:2"]), ["a:1", "b:2"]);
 * assert.deepEqual(addressesOf("http://127.0.0.1:9050"), ["127.0.0.1:9050"]);
 * assert.deepEqual(addressesOf("https://bigquery.example"), ["bigquery.example:443"]);
 * assert.deepEqual(addressesOf("127.0.0.1:9060"), ["127.0.0.1:9060"]);
 * assert.deepEqual(addressesOf(undefined), []);
 * ```
 */
export function addressesOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(addressesOf);
  if (typeof value !== "string" || value.trim() === "") return [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    const url = new URL(value);
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    return [hostPort(url.hostname, port)];
  }
  return value.split(",").map((part) => part.trim()).filter((part) => part !== "");
}

/** Label of an option in messages: `--flag, ENV`. */
function labelOf(option: Option<unknown>): string {
  return option.env ? `--${option.flag}, ${option.env}` : `--${option.flag}`;
}

/** The listen host of a port option: the option whose flag ends in `host` instead. */
function listenHost(
  options: Record<string, Option<unknown>>,
  values: Readonly<Record<string, unknown>>,
  port: Option<unknown>,
): string {
  const flag = port.flag.replace(/port$/, "host");
  for (const [key, option] of Object.entries(options)) {
    if (option.flag === flag && typeof values[key] === "string") return String(values[key]);
  }
  return "0.0.0.0"; // what Deno.serve listens on without a host
}

/** The value of a port option, or its default shown in help when unset (e.g. 9464). */
function portValue(option: Option<unknown>, value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (value !== undefined || option.fallbackHelp === undefined) return undefined;
  try {
    const parsed = option.parse(option.fallbackHelp);
    return typeof parsed === "number" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a script whose option table is `options` needs when its options
 * parsed to `values`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integer, text } from "../cli/mod.ts";
 * import { optionNeeds } from "./permissions.ts";
 * const options = {
 *   brokers: { flag: "brokers", env: "KAFKA_BROKERS", arg: "HOST:PORT,...", help: "", fallback: ["127.0.0.1:9092"], parse: (raw: string) => raw.split(","), grant: "kafka" as const },
 *   host: { flag: "host", arg: "HOST", help: "", fallback: "127.0.0.1", parse: text() },
 *   port: { flag: "port", env: "PORT", arg: "PORT", help: "", fallback: 8080, parse: integer() },
 *   logFile: { flag: "log-file", arg: "FILE", help: "", fallback: "app.log", parse: text(), grant: "write" as const },
 * };
 * const needs = optionNeeds(options, { brokers: ["localhost:9092"], host: "127.0.0.1", port: 8080, logFile: "app.log" });
 * assert.deepEqual(needs.connect, [
 *   { label: "--brokers, KAFKA_BROKERS", flag: "brokers", addresses: ["localhost:9092"], kind: "kafka" },
 * ]);
 * assert.deepEqual(needs.listen, ["127.0.0.1:8080"]);
 * assert.deepEqual([needs.read, needs.write], [["app.log"], ["app.log"]]);
 * assert.ok(needs.env.includes("KAFKA_BROKERS") && needs.env.includes("KAFKAJS_LOG_LEVEL"));
 * ```
 */
export function optionNeeds(
  options: Record<string, Option<unknown>>,
  values: Readonly<Record<string, unknown>>,
): Needs {
  const needs: Needs = {
    connect: [],
    listen: [],
    read: [],
    write: [],
    sockets: [],
    env: [],
    problems: [],
  };
  const env = new Set<string>();
  for (const [key, option] of Object.entries(options)) {
    if (option.env !== undefined) env.add(option.env);
    const value = values[key];
    const label = option.env ? `--${option.flag} (${option.env})` : `--${option.flag}`;
    const refused = (problem: string | undefined) => {
      if (problem !== undefined) needs.problems.push(`Invalid ${label}: ${problem}`);
      return problem !== undefined;
    };
    const path = (text: unknown) =>
      typeof text === "string" && !refused(pathGrantProblem(text)) ? [text] : [];
    switch (grantOf(option)) {
      case "connect":
      case "kafka": {
        let addresses: string[] = [];
        try {
          addresses = addressesOf(value).filter((address) =>
            !refused(addressGrantProblem(address))
          );
        } catch (error) {
          refused(`must be one URL or host:port, got ${JSON.stringify(value)} (${error})`);
        }
        if (addresses.length > 0) {
          needs.connect.push({
            label: labelOf(option),
            flag: option.flag,
            addresses,
            kind: grantOf(option) === "kafka" ? "kafka" : "service",
          });
        }
        break;
      }
      case "listen": {
        const port = portValue(option, value);
        const address = port === undefined
          ? undefined
          : hostPort(listenHost(options, values, option), port);
        if (address !== undefined && !refused(addressGrantProblem(address))) {
          needs.listen.push(address);
        }
        break;
      }
      case "read":
        needs.read.push(...path(value));
        break;
      case "write": // appending may read too (e.g. the file's size)
        for (const file of path(value)) {
          needs.read.push(file);
          needs.write.push(file);
        }
        break;
      case "socket": // made, listened on and connected to: read, write and net
        for (const file of path(value)) {
          needs.read.push(file);
          needs.write.push(file);
          needs.sockets.push(`unix:${absolutePath(file)}`);
        }
        break;
    }
    if (
      option.env === GOOGLE_CREDENTIALS_ENV && typeof value === "string" &&
      pathGrantProblem(value) === undefined
    ) {
      needs.connect.push({
        label: "real BigQuery",
        flag: option.flag,
        addresses: [...GOOGLE_HOSTS],
        kind: "cloud",
      });
      for (const name of GOOGLE_AUTH_ENV) env.add(name);
    }
  }
  const declared = [...env];
  for (const { when, names } of LIBRARY_ENV) {
    if (declared.some((name) => when.test(name))) { for (const name of names) env.add(name); }
  }
  needs.env = [...env];
  return needs;
}

/** Resolves a host name to its addresses (`node:dns` lookup, as the clients do). */
export type Resolver = (host: string) => Promise<string[]>;

/** The system resolver (getaddrinfo), every address of `host`; none when it fails. */
export const systemResolver: Resolver = async (host) => {
  try {
    return (await lookup(host, { all: true })).map((entry) => entry.address);
  } catch {
    return [];
  }
};

/** Whether `host` is an IP address (v4, or v6 with or without brackets). */
function isAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/**
 * `addresses` (`host:port`) plus every address their host names resolve to:
 * a client looks the name up (a grant of the name), then connects to the
 * address (a grant of the address).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withResolved } from "./permissions.ts";
 * const resolve = (host: string) => Promise.resolve(host === "localhost" ? ["127.0.0.1", "::1"] : []);
 * assert.deepEqual(
 *   await withResolved(["localhost:9092", "10.0.0.1:9092"], resolve),
 *   ["localhost:9092", "127.0.0.1:9092", "[::1]:9092", "10.0.0.1:9092"],
 * );
 * ```
 */
export async function withResolved(
  addresses: readonly string[],
  resolve: Resolver = systemResolver,
): Promise<string[]> {
  const all = new Set<string>();
  for (const address of addresses) {
    all.add(address);
    const colon = address.lastIndexOf(":");
    const host = address.slice(0, colon);
    const port = address.slice(colon + 1);
    if (colon === -1 || isAddress(host)) continue;
    for (const resolved of await resolve(host)) all.add(hostPort(resolved, port));
  }
  return [...all];
}

/** Grants of a run, as lists (empty: not granted). */
export interface Grants {
  net: string[];
  read: string[];
  write: string[];
  env: string[];
}

/**
 * `deno run` flags for `grants` merged into `flags` (the task's own, e.g.
 * `--allow-read=web`): a list flag present in both gets both lists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grantFlags } from "./permissions.ts";
 * assert.deepEqual(
 *   grantFlags({ net: ["127.0.0.1:9092"], read: ["ca.pem"], write: [], env: ["A", "B"] }, ["--no-prompt", "--allow-read=web"]),
 *   ["--no-prompt", "--allow-read=web,ca.pem", "--allow-net=127.0.0.1:9092", "--allow-env=A,B"],
 * );
 * ```
 */
export function grantFlags(grants: Grants, flags: readonly string[] = []): string[] {
  const result = [...flags];
  const lists: [string, string[]][] = [
    ["--allow-net", grants.net],
    ["--allow-read", grants.read],
    ["--allow-write", grants.write],
    ["--allow-env", grants.env],
  ];
  for (const [flag, list] of lists) {
    if (list.length === 0) continue;
    const at = result.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
    if (at === -1) {
      result.push(`${flag}=${[...new Set(list)].join(",")}`);
    } else if (result[at] !== flag) {
      const merged = new Set([...result[at]!.slice(flag.length + 1).split(","), ...list]);
      result[at] = `${flag}=${[...merged].join(",")}`;
    }
  }
  return result;
}

/** The host of `host:port`, without the brackets of an IPv6 address, in lower case. */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1").toLowerCase();
}

/**
 * The domain a configured broker host stands for: the name without its
 * first label when it has three or more (`b1.kafka.example.com` →
 * `kafka.example.com`), else the name itself; an IP address stands for
 * itself only.
 */
function brokerDomain(host: string): string {
  const labels = host.split(".");
  return isAddress(host) || labels.length < 3 ? host : labels.slice(1).join(".");
}

/** Options of {@linkcode splitAdvertised}. */
export interface AdvertisedOptions {
  /** The configured brokers (`host:port`) and the addresses their names resolve to. */
  configured: readonly string[];
  /** `--allow-advertised`: host names, or `*.domain` for every name under a domain. */
  allow?: readonly string[];
}

/**
 * Which of the addresses the brokers advertised may be granted: a broker's
 * metadata answer is not authenticated on a plaintext listener, so only
 * hosts that are a configured broker (by name or by a resolved address),
 * lie under a configured broker's domain, or are listed in
 * `--allow-advertised` are; the rest are refused, each once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitAdvertised } from "./permissions.ts";
 * const configured = ["b1.kafka.example.com:9092", "localhost:9092", "127.0.0.1:9092"];
 * assert.deepEqual(
 *   splitAdvertised(["b2.kafka.example.com:9092", "127.0.0.1:9093", "evil.example:9092"], { configured }),
 *   { allowed: ["b2.kafka.example.com:9092", "127.0.0.1:9093"], refused: ["evil.example:9092"] },
 * );
 * assert.deepEqual(
 *   splitAdvertised(["evil.example:9092", "x.other.net:1", "a,b:1"], { configured, allow: ["evil.example", "*.other.net"] }),
 *   { allowed: ["evil.example:9092", "x.other.net:1"], refused: ["a,b:1"] },
 * );
 * ```
 */
export function splitAdvertised(
  advertised: readonly string[],
  options: AdvertisedOptions,
): { allowed: string[]; refused: string[] } {
  const hosts = new Set(options.configured.map(hostOf));
  const domains = [...hosts].filter((host) => !isAddress(host)).map(brokerDomain);
  const allow = (options.allow ?? []).map((host) => host.toLowerCase().replace(/^\[(.*)\]$/, "$1"));
  const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);
  const allowed: string[] = [];
  const refused: string[] = [];
  for (const address of new Set(advertised)) {
    const host = hostOf(address);
    const ok = addressGrantProblem(address) === undefined && (
      hosts.has(host) ||
      (!isAddress(host) && domains.some((domain) => under(host, domain))) ||
      allow.some((entry) => entry.startsWith("*.") ? under(host, entry.slice(2)) : entry === host)
    );
    (ok ? allowed : refused).push(address);
  }
  return { allowed, refused };
}

/**
 * `args` with the values of `table`'s secret options (e.g.
 * `--sasl-password`) replaced by `***`, for printing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactArgs } from "./permissions.ts";
 * const table = { password: { flag: "sasl-password", help: "", fallback: undefined, parse: String, secret: true } };
 * assert.deepEqual(
 *   redactArgs(table, ["--sasl-password", "hunter2", "--sasl-password=hunter2", "--rate", "5"]),
 *   ["--sasl-password", "***", "--sasl-password=***", "--rate", "5"],
 * );
 * ```
 */
export function redactArgs(
  table: Readonly<Record<string, Option<unknown>>>,
  args: readonly string[],
): string[] {
  const secret = new Set(
    Object.values(table).filter((option) => option.secret).map((option) => `--${option.flag}`),
  );
  return args.map((arg, at) => {
    const [name] = arg.split("=", 1);
    if (name !== undefined && secret.has(name) && arg.includes("=")) return `${name}=***`;
    const before = args[at - 1];
    return before !== undefined && secret.has(before) ? "***" : arg;
  });
}
