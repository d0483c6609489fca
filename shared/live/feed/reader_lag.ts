/**
 * How far the dashboard's Kafka reader is behind the topic: messages
 * written but not counted yet, what the page shows as its freshness.
 *
 * @module
 */

/** End offsets of one partition (as the Kafka admin gives them). */
export interface PartitionEnd {
  partition: number;
  /** Next offset to be written. */
  high: bigint;
}

/**
 * Messages in `ends` not read yet: per partition, its end minus the
 * reader's next offset (`position`); partitions it does not read count
 * nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readerLag } from "./reader_lag.ts";
 * const position = (p: number) => [10n, 4n][p];
 * assert.equal(readerLag([{ partition: 0, high: 12n }, { partition: 1, high: 4n }, { partition: 2, high: 9n }], position), 2);
 * ```
 */
export function readerLag(
  ends: readonly PartitionEnd[],
  position: (partition: number) => bigint | undefined,
): number {
  let lag = 0n;
  for (const { partition, high } of ends) {
    const at = position(partition);
    if (at !== undefined && high > at) lag += high - at;
  }
  return Number(lag);
}
