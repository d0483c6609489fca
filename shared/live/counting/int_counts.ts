/**
 * Counts keyed by small non-negative integers (song indexes), held in one
 * `Int32Array` as an open-addressing hash table: about 11 bytes an entry at
 * the table's average load, against 40 or more for a `Map` entry. A
 * window's buckets hold one of these each, so memory follows the (bucket,
 * song) pairs the windows hold at a fraction of the cost.
 *
 * @module
 */

/** Counts per integer key. */
export interface IntCounts {
  /** Adds `n` to `key`'s count (`key` a non-negative 31-bit integer). */
  add(key: number, n: number): void;
  /** `key`'s count, 0 when absent. */
  get(key: number): number;
  /** Calls `fn` with every key and its count, in no particular order. */
  forEach(fn: (key: number, count: number) => void): void;
  /** Keys held. */
  readonly size: number;
  /** Bytes of the table. */
  readonly bytes: number;
}

const EMPTY = -1;

/**
 * Creates an empty table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIntCounts } from "./int_counts.ts";
 * const counts = createIntCounts();
 * for (let song = 0; song < 100; song++) counts.add(song, song % 3 + 1);
 * counts.add(7, 10);
 * assert.equal(counts.size, 100);
 * assert.equal(counts.get(7), 12);
 * assert.equal(counts.get(1_000), 0);
 * let total = 0;
 * counts.forEach((_, count) => (total += count));
 * assert.equal(total, 209);
 * ```
 */
export function createIntCounts(): IntCounts {
  let capacity = 4; // slots, a power of two; each slot is [key, count]
  let table = new Int32Array(capacity * 2).fill(EMPTY);
  let size = 0;

  function slotOf(key: number, within: Int32Array, slots: number): number {
    let slot = (Math.imul(key, 0x9e3779b1) >>> 0) & (slots - 1);
    while (within[slot * 2] !== EMPTY && within[slot * 2] !== key) slot = (slot + 1) & (slots - 1);
    return slot;
  }

  function grow(): void {
    const old = table;
    capacity *= 2;
    table = new Int32Array(capacity * 2).fill(EMPTY);
    for (let i = 0; i < old.length; i += 2) {
      const key = old[i]!;
      if (key === EMPTY) continue;
      const slot = slotOf(key, table, capacity);
      table[slot * 2] = key;
      table[slot * 2 + 1] = old[i + 1]!;
    }
  }

  return {
    add(key, n) {
      if (!Number.isInteger(key) || key < 0 || key > 0x7fffffff) {
        throw new RangeError(`Cannot count key ${key}: expected a non-negative 31-bit integer`);
      }
      let slot = slotOf(key, table, capacity);
      if (table[slot * 2] === EMPTY) {
        if ((size + 1) * 4 > capacity * 3) {
          grow();
          slot = slotOf(key, table, capacity);
        }
        table[slot * 2] = key;
        table[slot * 2 + 1] = 0;
        size++;
      }
      table[slot * 2 + 1]! += n;
    },
    get(key) {
      const slot = slotOf(key, table, capacity);
      return table[slot * 2] === EMPTY ? 0 : table[slot * 2 + 1]!;
    },
    forEach(fn) {
      for (let i = 0; i < table.length; i += 2) {
        const key = table[i]!;
        if (key !== EMPTY) fn(key, table[i + 1]!);
      }
    },
    get size() {
      return size;
    },
    get bytes() {
      return table.byteLength;
    },
  };
}
