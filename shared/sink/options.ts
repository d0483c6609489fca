/**
 * The consumer's command-line options for its sink: when a batch is
 * flushed, how many are written at once, and when to stop on its own.
 *
 * @module
 */

import { boolean, decimal, integer, type Option, type RawValues } from "../cli/mod.ts";
import { WRITE_APIS, type WriteApi } from "../bigquery/options.ts";
import { SCHEMA_EVOLUTIONS, type SchemaEvolution } from "../schema.ts";

/**
 * Parses a write API name (`storage-write` or `insert-all`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeApi } from "./options.ts";
 * assert.equal(writeApi("insert-all"), "insert-all");
 * assert.throws(() => writeApi("stream"), /must be storage-write or insert-all/);
 * ```
 */
export function writeApi(raw: string): WriteApi {
  const value = WRITE_APIS.find((api) => api === raw.trim());
  if (value === undefined) {
    throw new Error(`must be ${WRITE_APIS.join(" or ")}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Parses a schema-evolution policy (`add-columns`, `extra-column` or `off`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaEvolution } from "./options.ts";
 * assert.equal(schemaEvolution("extra-column"), "extra-column");
 * assert.throws(() => schemaEvolution("all"), /must be add-columns, extra-column or off/);
 * ```
 */
export function schemaEvolution(raw: string): SchemaEvolution {
  const value = SCHEMA_EVOLUTIONS.find((policy) => policy === raw.trim());
  if (value === undefined) {
    throw new Error(
      `must be ${SCHEMA_EVOLUTIONS.slice(0, -1).join(", ")} or ${SCHEMA_EVOLUTIONS.at(-1)}, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return value;
}

/**
 * What happens to fields events carry beyond the core ones. The Kafka
 * Connect BigQuery sink's nearest options: `add-columns` is
 * `allowNewBigQueryFields=true` (new NULLABLE columns; a type conflict is a
 * dead letter here rather than a failed task), `extra-column` resembles its
 * `kafkaDataFieldName`-style single-column capture, `off` is
 * `allowNewBigQueryFields=false` with unknown fields dropped rather than
 * refused. `allowBigQueryRequiredFieldRelaxation` has no counterpart: the
 * core columns stay REQUIRED and every added one is NULLABLE.
 */
export const schemaOptions = {
  schemaEvolution: {
    flag: "schema-evolution",
    env: "SCHEMA_EVOLUTION",
    arg: "POLICY",
    help:
      "Event fields beyond the core ones: add-columns (new NULLABLE columns), extra-column (one JSON column 'extra') or off (dropped)",
    fallback: "add-columns" as SchemaEvolution,
    parse: schemaEvolution,
  },
  schemaCheck: {
    flag: "schema-check",
    env: "SCHEMA_CHECK_SECONDS",
    arg: "SECONDS",
    help:
      "Read the table's columns again at least this often, so that a column dropped or retyped by hand is noticed even while appends succeed",
    fallback: 30,
    parse: decimal(0.1),
  },
  printSchema: {
    flag: "print-schema",
    help: "Print the table schema livecharts would create (JSON, for bq mk --schema) and exit",
    fallback: false,
    parse: boolean,
  },
} satisfies Record<string, Option<unknown>>;

/** How rows are written, and what the consumer may do to the table. */
export const writeOptions = {
  writeApi: {
    flag: "write-api",
    env: "WRITE_API",
    arg: "API",
    help:
      "storage-write (exactly once) or insert-all (at least once, for places without the Storage Write API)",
    fallback: "storage-write" as WriteApi,
    parse: writeApi,
  },
  createTable: {
    flag: "create-table",
    env: "BIGQUERY_CREATE_TABLE",
    arg: "BOOL",
    help:
      "Create the dataset and table when missing, at start and when dropped while running (false: wait for them)",
    fallback: true,
    parse: boolean,
  },
  crashAfterColumns: {
    flag: "test-crash-after-columns",
    env: "LIVECHARTS_TEST_CRASH_AFTER_COLUMNS",
    arg: "BOOL",
    help:
      "Tests only: exit at once after adding columns to the table, before anything is written with them",
    fallback: false,
    parse: boolean,
    hidden: true,
    check: (values) =>
      values.crashAfterColumns === true && values.credentials !== undefined
        ? "LIVECHARTS_TEST_CRASH_AFTER_COLUMNS (--test-crash-after-columns) is a failpoint for " +
          "tests against the local BigQuery; refusing to run it with real BigQuery " +
          "(GOOGLE_APPLICATION_CREDENTIALS is set)"
        : undefined,
  },
  crashAfterAppends: {
    flag: "test-crash-after-appends",
    env: "LIVECHARTS_TEST_CRASH_AFTER_APPENDS",
    arg: "N",
    help:
      "Tests only: exit at once after the Nth acknowledged append, before its Kafka commit (the crash window exactly-once must close)",
    fallback: undefined,
    parse: (raw: string): number | undefined => raw === "" ? undefined : integer(1)(raw),
    hidden: true,
    check: (values) =>
      values.crashAfterAppends !== undefined && values.credentials !== undefined
        ? "LIVECHARTS_TEST_CRASH_AFTER_APPENDS (--test-crash-after-appends) is a failpoint for " +
          "tests against the local BigQuery; refusing to run it with real BigQuery " +
          "(GOOGLE_APPLICATION_CREDENTIALS is set)"
        : undefined,
  },
} satisfies Record<string, Option<unknown>>;

/** Batch limits and write concurrency (the `FlushLimits` and `concurrency` of the sink). */
export const batchOptions = {
  maxRows: {
    flag: "batch-rows",
    env: "BATCH_MAX_ROWS",
    arg: "N",
    help: "Flush a batch at this many rows",
    // Appends cost per request more than per row; insertAll's guidance is 500.
    fallback: (raw: RawValues): number => raw.writeApi === "insert-all" ? 500 : 2_000,
    fallbackHelp: "2000, 500 with --write-api insert-all",
    parse: integer(1, 50_000),
  },
  maxBytes: {
    flag: "batch-bytes",
    env: "BATCH_MAX_BYTES",
    arg: "N",
    help: "Flush a batch at this many bytes",
    fallback: 5_000_000,
    parse: integer(1_000, 9_000_000),
  },
  maxWaitMs: {
    flag: "batch-wait-ms",
    env: "BATCH_MAX_WAIT_MS",
    arg: "MS",
    help: "Flush a batch after this long",
    // Short: no message arrives while a fetch's batches are stored (the Kafka
    // client fetches again only once they are), so waiting longer only adds delay.
    fallback: 50,
    parse: integer(0, 60_000),
  },
  concurrency: {
    flag: "insert-concurrency",
    env: "INSERT_CONCURRENCY",
    arg: "N",
    help: "Appends in flight per partition (batches written to BigQuery at once)",
    fallback: 2,
    parse: integer(1, 64),
  },
} satisfies Record<string, Option<unknown>>;

/** `--exit-when-idle`: stop once caught up and quiet (tests, one-off backfills). */
export const exitWhenIdleOption = {
  flag: "exit-when-idle",
  arg: "SECONDS",
  help: "Exit 0 once caught up and idle this long (default: run until stopped)",
  fallback: undefined,
  parse: decimal(0),
} satisfies Option<number | undefined>;
