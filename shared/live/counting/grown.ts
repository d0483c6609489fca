/**
 * How the counter's typed arrays grow: doubled while small, by a quarter
 * once past 65,536 elements. A table sized exactly for a history (a million
 * songs reserved at once) then takes a quarter more on its next song, not
 * as much again: at a million songs, doubling cost the dashboard about
 * 100 MB on the first new song read after its start.
 *
 * @module
 */

/** Elements past which an array grows by a quarter instead of doubling. */
const LARGE = 1 << 16;

/**
 * The length an array of `current` elements grows to when it must hold
 * `needed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grownLength } from "./grown.ts";
 * assert.equal(grownLength(1_024, 1_025), 2_048);
 * assert.equal(grownLength(1_000_000, 1_000_001), 1_250_000);
 * assert.equal(grownLength(1_000_000, 3_000_000), 3_000_000);
 * ```
 */
export function grownLength(current: number, needed: number): number {
  const next = current < LARGE ? current * 2 : current + Math.ceil(current / 4);
  return Math.max(needed, next);
}

/**
 * `array` when it holds `length` elements already; otherwise a copy in a
 * larger one from `make` (see {@linkcode grownLength}), its new elements set
 * to `fill`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grown } from "./grown.ts";
 * const small = new Int32Array([1, 2]);
 * assert.equal(grown(small, 2, (n) => new Int32Array(n)), small);
 * assert.deepEqual([...grown(small, 3, (n) => new Int32Array(n), -1)], [1, 2, -1, -1]);
 * ```
 */
export function grown<T extends Float64Array | Int32Array | Uint8Array>(
  array: T,
  length: number,
  make: (n: number) => T,
  fill = 0,
): T {
  if (array.length >= length) return array;
  const next = make(grownLength(array.length, length));
  if (fill !== 0) next.fill(fill, array.length);
  next.set(array);
  return next;
}
