import assert from "node:assert/strict";
import { createIntCounts } from "../../shared/live/counting/int_counts.ts";
import { prng } from "../../shared/produce/random.ts";

Deno.test("createIntCounts() agrees with a Map over random adds, through every growth", () => {
  const random = prng(11);
  const counts = createIntCounts();
  const reference = new Map<number, number>();
  for (let i = 0; i < 50_000; i++) {
    // Clustered and spread keys, as song indexes are.
    const key = random() < 0.5 ? Math.floor(random() * 64) : Math.floor(random() * 2 ** 31);
    const n = 1 + Math.floor(random() * 3);
    counts.add(key, n);
    reference.set(key, (reference.get(key) ?? 0) + n);
  }
  assert.equal(counts.size, reference.size);
  const seen = new Map<number, number>();
  counts.forEach((key, count) => seen.set(key, count));
  assert.deepEqual(seen, reference);
  for (const [key, count] of reference) assert.equal(counts.get(key), count);
  assert.equal(counts.get(2 ** 31 - 1), reference.get(2 ** 31 - 1) ?? 0);
  // About 8 bytes a slot, at least a quarter of the slots in use.
  assert.ok(counts.bytes <= reference.size * 8 * 4, `${counts.bytes} bytes`);
});

Deno.test("createIntCounts() refuses keys it cannot hold", () => {
  const counts = createIntCounts();
  assert.throws(() => counts.add(-1, 1), /expected a non-negative 31-bit integer/);
  assert.throws(() => counts.add(2 ** 31, 1), RangeError);
  assert.throws(() => counts.add(1.5, 1), RangeError);
});
