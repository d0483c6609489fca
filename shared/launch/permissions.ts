/**
 * Permissions that follow configuration: what a script's parsed options need
 * from the runtime (addresses to connect to and listen on, files to read and
 * write, environment variables), turned into `deno run` grants. The launcher
 * (launch.ts) computes them from the same options the script will parse.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import type { Grant, Option } from "../cli/mod.ts";

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
  /** Environment variables: the options' and their libraries'. */
  env: string[];
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
  const needs: Needs = { connect: [], listen: [], read: [], write: [], env: [] };
  const env = new Set<string>();
  for (const [key, option] of Object.entries(options)) {
    if (option.env !== undefined) env.add(option.env);
    const value = values[key];
    switch (grantOf(option)) {
      case "connect":
      case "kafka": {
        const addresses = addressesOf(value);
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
        if (port !== undefined) {
          needs.listen.push(hostPort(listenHost(options, values, option), port));
        }
        break;
      }
      case "read":
        if (typeof value === "string") needs.read.push(value);
        break;
      case "write": // appending may read too (e.g. the file's size)
        if (typeof value === "string") {
          needs.read.push(value);
          needs.write.push(value);
        }
        break;
    }
    if (option.env === GOOGLE_CREDENTIALS_ENV && typeof value === "string") {
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
