/**
 * The consumer stage between the Kafka source and BigQuery, exactly once:
 * the stream gives each assigned partition a writer that decodes its
 * messages (rows and dead letters), appends them to a write stream of its
 * own at explicit offsets and commits each stored stretch with a commit
 * marker; plus the wait for a usable table at start, the consumer's metrics
 * and health, the settings its options make, and what it logs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sourceSettings } from "./mod.ts";
 * assert.equal(sourceSettings({ topic: "plays", group: "g", maxWaitMs: 50 }).maxWaitMs, 100);
 * ```
 *
 * @module
 */

export { type ConsumerMetrics, createConsumerMetrics } from "./metrics.ts";
export { batchOptions, exitWhenIdleOption, writeOptions } from "./options.ts";
export { createTableState, type TableState } from "./partition/mod.ts";
export {
  destinationSettings,
  runSettings,
  sourceSettings,
  type StreamSettings,
  streamSettings,
} from "./settings.ts";
export type { WriterStats } from "./sink.ts";
export { logDestination, logStopped, startConsumerProgress } from "./status_lines.ts";
export {
  createSinkStream,
  type RunOptions,
  type SinkStream,
  type SinkStreamOptions,
  type StreamOutcome,
} from "./stream.ts";
export { waitForTable, type WaitForTableOptions } from "./table_ready.ts";
