/**
 * BigQuery's command-line options: which project, dataset and table, and
 * whether to reach the emulator or real BigQuery. Every value comes from a
 * flag or an environment variable (flags win) and is validated once, here.
 *
 * @module
 */

import {
  type Option,
  optional,
  parseOptions,
  type RawValues,
  text,
  type Values,
} from "../cli/mod.ts";

const PROJECT = /^[a-z][a-z0-9-]{4,61}[a-z0-9]$/;
/** A BigQuery dataset, table or view name: a letter or `_`, then letters, digits, `_`. */
/** The write APIs, for `--write-api`. */
export const WRITE_APIS = ["storage-write", "insert-all"] as const;

/** How rows reach BigQuery. */
export type WriteApi = typeof WRITE_APIS[number];

/** Names of BigQuery datasets, tables and views. */
export const BIGQUERY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/;

/**
 * An emulator base URL (`http://host:port`), reduced to its origin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpUrl } from "./options.ts";
 * assert.equal(httpUrl("http://127.0.0.1:9050/some/path"), "http://127.0.0.1:9050");
 * ```
 */
export function httpUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`must be a URL like http://127.0.0.1:9050, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return url.origin;
}

/** BigQuery options. */
export const bigqueryOptions = {
  project: {
    flag: "project",
    env: "BIGQUERY_PROJECT",
    arg: "ID",
    help: "BigQuery project id",
    fallback: "livecharts-local",
    parse: text(PROJECT, "a project id (6-63 of a-z, 0-9, -)"),
  },
  dataset: {
    flag: "dataset",
    env: "BIGQUERY_DATASET",
    arg: "NAME",
    help: "BigQuery dataset",
    fallback: "music",
    parse: text(BIGQUERY_NAME, "a dataset name (letters, digits, _)"),
  },
  table: {
    flag: "table",
    env: "BIGQUERY_TABLE",
    arg: "NAME",
    help: "BigQuery table of plays",
    fallback: "plays",
    parse: text(BIGQUERY_NAME, "a table name (letters, digits, _)"),
  },
  emulatorHost: {
    flag: "emulator-host",
    env: "BIGQUERY_EMULATOR_HOST",
    arg: "URL",
    help: "BigQuery emulator base URL; used when GOOGLE_APPLICATION_CREDENTIALS is unset",
    fallback: (raw: RawValues): string | undefined =>
      raw.credentials === undefined ? "http://127.0.0.1:9050" : undefined,
    fallbackHelp: "http://127.0.0.1:9050 without credentials",
    parse: httpUrl,
  },
  credentials: {
    flag: "credentials",
    env: "GOOGLE_APPLICATION_CREDENTIALS",
    arg: "FILE",
    help: "Service-account key file; set it to use real BigQuery",
    fallback: undefined,
    parse: optional,
  },
} satisfies Record<string, Option<unknown>>;

/**
 * A gRPC address, `host:port` (an IPv6 host in brackets).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grpcAddress } from "./options.ts";
 * assert.equal(grpcAddress("127.0.0.1:9060"), "127.0.0.1:9060");
 * assert.throws(() => grpcAddress("http://127.0.0.1:9060"), /must be host:port/);
 * ```
 */
export function grpcAddress(raw: string): string {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(raw.trim());
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65_535) {
    throw new Error(`must be host:port like 127.0.0.1:9060, got ${JSON.stringify(raw)}`);
  }
  return raw.trim();
}

/**
 * Where the Storage Write API is: only the consumer writes through it, so it
 * has its own table (other scripts neither need nor are granted it).
 */
export const storageApiOptions = {
  storageEmulatorHost: {
    flag: "storage-emulator-host",
    env: "BIGQUERY_STORAGE_EMULATOR_HOST",
    arg: "HOST:PORT",
    help:
      "Storage Write API of the local BigQuery (plaintext gRPC); used when GOOGLE_APPLICATION_CREDENTIALS is unset",
    fallback: (raw: RawValues): string | undefined =>
      raw.credentials === undefined ? "127.0.0.1:9060" : undefined,
    fallbackHelp: "127.0.0.1:9060 without credentials",
    parse: grpcAddress,
  },
} satisfies Record<string, Option<unknown>>;

/** Where the plays table lives and how to reach BigQuery. */
export type BigQueryConfig = Values<typeof bigqueryOptions>;

/**
 * Parses only the BigQuery options (handy for tests and tools).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadBigQueryConfig } from "./options.ts";
 * assert.equal(loadBigQueryConfig(["--table", "plays_v2"], {}).table, "plays_v2");
 * ```
 */
export function loadBigQueryConfig(
  args: readonly string[],
  env: Record<string, string | undefined>,
): BigQueryConfig {
  return parseOptions(bigqueryOptions, args, env);
}
