/**
 * Statistics of benchmark samples: median, extremes, percentiles and ratios.
 * Pure functions; every one rejects an empty or non-finite sample instead of
 * returning `NaN`.
 *
 * @module
 */

/** Median, minimum and maximum of repeated measurements. */
export interface Summary {
  median: number;
  min: number;
  max: number;
}

function sorted(values: readonly number[], what: string): number[] {
  if (values.length === 0) {
    throw new RangeError(`Cannot compute ${what} of no values: expected at least one`);
  }
  for (const value of values) {
    if (!Number.isFinite(value)) {
      throw new RangeError(`Cannot compute ${what}: expected finite numbers, got ${value}`);
    }
  }
  return [...values].sort((a, b) => a - b);
}

/**
 * The middle value (the mean of the two middle values for an even count).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { median } from "./stats.ts";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 3, 2]), 2.5);
 * ```
 */
export function median(values: readonly number[]): number {
  const order = sorted(values, "a median");
  const middle = Math.floor(order.length / 2);
  return order.length % 2 === 1 ? order[middle]! : (order[middle - 1]! + order[middle]!) / 2;
}

/**
 * The `p`-th percentile by the nearest-rank method: the smallest value such
 * that at least `p` percent of the values are at or below it. Always one of
 * the values, never an interpolation (so a p99 is a latency someone saw).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentile } from "./stats.ts";
 * const values = Array.from({ length: 100 }, (_, i) => i + 1);
 * assert.equal(percentile(values, 99), 99);
 * assert.equal(percentile(values, 50), 50);
 * assert.equal(percentile([7], 99), 7);
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) {
    throw new RangeError(`Cannot compute a percentile: 'p' must be in (0, 100], got ${p}`);
  }
  const order = sorted(values, `the ${p}th percentile`);
  const rank = Math.ceil((p / 100) * order.length);
  return order[Math.max(0, rank - 1)]!;
}

/**
 * Median, minimum and maximum of `values`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarize } from "./stats.ts";
 * assert.deepEqual(summarize([5, 1, 3]), { median: 3, min: 1, max: 5 });
 * ```
 */
export function summarize(values: readonly number[]): Summary {
  const order = sorted(values, "a summary");
  return { median: median(order), min: order[0]!, max: order[order.length - 1]! };
}

/**
 * `ours / reference`, rounded to `digits` decimals (default 2). Throws when
 * the reference is not a positive number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ratio } from "./stats.ts";
 * assert.equal(ratio(30_000, 40_000), 0.75);
 * ```
 */
export function ratio(ours: number, reference: number, digits = 2): number {
  if (!(Number.isFinite(ours) && Number.isFinite(reference) && reference > 0)) {
    throw new RangeError(
      `Cannot compute a ratio: expected a finite value over a positive reference, got ${ours} / ${reference}`,
    );
  }
  const scale = 10 ** digits;
  return Math.round((ours / reference) * scale) / scale;
}

/**
 * Rounds to a number of significant digits (default 3), for reporting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { significant } from "./stats.ts";
 * assert.equal(significant(123_456), 123_000);
 * assert.equal(significant(0.012345), 0.0123);
 * ```
 */
export function significant(value: number, digits = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}
