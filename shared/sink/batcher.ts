/**
 * When held rows form an append: `maxRows` rows or `maxBytes` bytes, or the
 * oldest row waited `maxWaitMs` — whichever comes first (a partition
 * writer's appends, held.ts).
 *
 * @module
 */

/** When to flush. */
export interface FlushLimits {
  /** Most items in one batch (at least 1). */
  maxRows: number;
  /** Most bytes in one batch; a single larger item still forms a batch. */
  maxBytes: number;
  /** Longest an item waits before its batch is flushed, in milliseconds. */
  maxWaitMs: number;
}

/**
 * How many items from the head of a queue with these `sizes` form the next
 * batch: as many as fit both limits, and always at least one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchLength } from "./batcher.ts";
 * assert.equal(batchLength([40, 40, 40], { maxRows: 10, maxBytes: 100 }), 2);
 * ```
 */
export function batchLength(
  sizes: Iterable<number>,
  limits: Pick<FlushLimits, "maxRows" | "maxBytes">,
): number {
  let bytes = 0;
  let count = 0;
  if (limits.maxRows < 1) return 0;
  for (const size of sizes) {
    if (count > 0 && bytes + size > limits.maxBytes) break;
    bytes += size;
    count++;
    if (count >= limits.maxRows) break;
  }
  return count;
}

/**
 * Why a queue of `rows` items and `bytes` bytes whose oldest item is `ageMs`
 * old should be flushed now, or `undefined` when it should wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flushReason } from "./batcher.ts";
 * const limits = { maxRows: 500, maxBytes: 1_000_000, maxWaitMs: 1000 };
 * assert.equal(flushReason({ rows: 500, bytes: 1, ageMs: 0 }, limits), "rows");
 * assert.equal(flushReason({ rows: 1, bytes: 1, ageMs: 10 }, limits), undefined);
 * ```
 */
export function flushReason(
  queue: { rows: number; bytes: number; ageMs: number },
  limits: FlushLimits,
): "rows" | "bytes" | "time" | undefined {
  if (queue.rows === 0) return undefined;
  if (queue.rows >= limits.maxRows) return "rows";
  if (queue.bytes >= limits.maxBytes) return "bytes";
  if (queue.ageMs >= limits.maxWaitMs) return "time";
  return undefined;
}
