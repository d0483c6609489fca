/**
 * The consumer's command-line options for its sink: when a batch is
 * flushed, how many are written at once, and when to stop on its own.
 *
 * @module
 */

import { decimal, integer, type Option } from "../cli/mod.ts";

/** Batch limits and write concurrency (the `FlushLimits` and `concurrency` of the sink). */
export const batchOptions = {
  maxRows: {
    flag: "batch-rows",
    env: "BATCH_MAX_ROWS",
    arg: "N",
    help: "Flush a batch at this many rows",
    fallback: 500,
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
    help: "Batches written to BigQuery at once",
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
