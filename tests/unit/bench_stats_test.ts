import assert from "node:assert/strict";
import { median, percentile, ratio, significant, summarize } from "../../bench/stats.ts";

Deno.test("median() takes the middle value, or the mean of the two middle ones", () => {
  assert.equal(median([5]), 5);
  assert.equal(median([9, 1, 5]), 5);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([-1, -3, -2]), -2);
});

Deno.test("median() does not reorder its input", () => {
  const values = [3, 1, 2];
  median(values);
  assert.deepEqual(values, [3, 1, 2]);
});

Deno.test("median(), percentile() and summarize() refuse empty or non-finite samples", () => {
  assert.throws(() => median([]), {
    name: "RangeError",
    message: "Cannot compute a median of no values: expected at least one",
  });
  assert.throws(() => percentile([], 99), RangeError);
  assert.throws(() => summarize([1, Number.NaN]), {
    message: "Cannot compute a summary: expected finite numbers, got NaN",
  });
  assert.throws(() => median([Number.POSITIVE_INFINITY]), RangeError);
});

Deno.test("percentile() uses the nearest rank, so it is always a measured value", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted
  assert.equal(percentile(hundred, 50), 50);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile(hundred, 100), 100);
  assert.equal(percentile(hundred, 0.5), 1);
  // With few samples the p99 is the largest.
  assert.equal(percentile([10, 30, 20], 99), 30);
  assert.equal(percentile([10, 30, 20], 50), 20);
  // 240 pushes (60 s at 4 a second): the p99 is the 3rd largest.
  const pushes = Array.from({ length: 240 }, (_, i) => i + 1);
  assert.equal(percentile(pushes, 99), 238);
});

Deno.test("percentile() refuses a p outside (0, 100]", () => {
  for (const p of [0, -1, 101, Number.NaN]) {
    assert.throws(() => percentile([1], p), RangeError, `p = ${p}`);
  }
});

Deno.test("summarize() gives median, min and max", () => {
  assert.deepEqual(summarize([61_000, 58_500, 63_200]), {
    median: 61_000,
    min: 58_500,
    max: 63_200,
  });
  assert.deepEqual(summarize([7]), { median: 7, min: 7, max: 7 });
  assert.deepEqual(summarize([1, 2, 3, 10]), { median: 2.5, min: 1, max: 10 });
});

Deno.test("ratio() divides ours by the reference and rounds", () => {
  assert.equal(ratio(30_000, 40_000), 0.75);
  assert.equal(ratio(10_000, 3_000), 3.33);
  assert.equal(ratio(9_000, 17.3, 1), 520.2);
  assert.equal(ratio(0, 5), 0);
});

Deno.test("ratio() refuses a reference that is not positive", () => {
  assert.throws(() => ratio(1, 0), {
    name: "RangeError",
    message: "Cannot compute a ratio: expected a finite value over a positive reference, got 1 / 0",
  });
  assert.throws(() => ratio(1, -2), RangeError);
  assert.throws(() => ratio(Number.NaN, 2), RangeError);
});

Deno.test("significant() keeps three significant digits", () => {
  assert.equal(significant(61_234.5), 61_200);
  assert.equal(significant(0.012345), 0.0123);
  assert.equal(significant(999.6), 1_000);
  assert.equal(significant(0), 0);
  assert.equal(significant(123_456, 2), 120_000);
});
