/**
 * BigQuery's command-line options: which project, dataset and table, and
 * whether to reach the emulator or real BigQuery. Every value comes from a
 * flag or an environment variable (flags win) and is validated once, here.
 *
 * @module
 */

import {
  BIGQUERY_NAME,
  type Option,
  optional,
  parseOptions,
  type RawValues,
  text,
  type Values,
} from "../cli/mod.ts";

const PROJECT = /^[a-z][a-z0-9-]{4,61}[a-z0-9]$/;

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
