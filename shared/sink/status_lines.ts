/**
 * What the consumer tells its operator: the table it writes to and how, a
 * progress line while it runs, and what it did when it stops.
 *
 * @module
 */

import type { Destination } from "../bigquery/mod.ts";
import { compact, logger, type Progress, rateMeter, startProgress } from "../ops/mod.ts";
import type { ConsumerMetrics } from "./metrics.ts";
import type { WriterStats } from "./sink.ts";

const log = logger("consumer");

/** Logs the table the consumer writes to, its guarantee and its write API. */
export function logDestination(destination: Destination, options: { local: boolean }): void {
  log.info("Writing to {table} ({mode})", {
    table: destination.table,
    mode: `${destination.exactlyOnce ? "exactly once" : "at least once"} via ${destination.api}, ${
      options.local ? "local BigQuery" : "BigQuery"
    }`,
  });
}

/**
 * The consumer's progress line from the stream's counters and the lag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressLine } from "./status_lines.ts";
 * import { createSinkStats } from "./sink.ts";
 * const stats = { ...createSinkStats(), skipped: 0, rewritten: 0, streamsLost: 0, consumed: 1_500 };
 * assert.equal(
 *   progressLine(stats, 3n, 250),
 *   "consumer: consumed 1500 | inserted 0 | dlq 0 | retries 0 | lag 3 | 250/s",
 * );
 * ```
 */
export function progressLine(stats: WriterStats, lag: bigint, rate: number): string {
  const dlq = Object.values(stats.deadLettered).reduce((sum, n) => sum + n, 0);
  return `consumer: consumed ${compact(stats.consumed)} | inserted ${compact(stats.inserted)}` +
    ` | dlq ${dlq} | retries ${stats.retries} | lag ${lag} | ${compact(rate)}/s`;
}

/** Starts the consumer's progress line (rows inserted per second). */
export function startConsumerProgress(
  stream: { readonly stats: WriterStats },
  metrics: Pick<ConsumerMetrics, "totalLag">,
): Progress {
  const meter = rateMeter();
  return startProgress({
    render: () => progressLine(stream.stats, metrics.totalLag(), meter(stream.stats.inserted)),
  });
}

/** Logs what the consumer did, and that rows read were left uncommitted when `abandoned`. */
export function logStopped(stats: WriterStats, options: { abandoned: boolean }): void {
  log.info(
    "Stopped: {consumed} consumed, {inserted} inserted, {dlq} dead-lettered, {retries} retries",
    {
      consumed: stats.consumed,
      inserted: stats.inserted,
      dlq: JSON.stringify(stats.deadLettered),
      retries: stats.retries,
      skipped: stats.skipped,
      rewritten: stats.rewritten,
    },
  );
  if (options.abandoned) {
    log.error(
      "Stopped before BigQuery took every row read; those rows were not committed and will be read again",
    );
  }
}
