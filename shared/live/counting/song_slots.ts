/**
 * The open-addressing slot of a song in a table of `(artist id, 32-bit song
 * id, value)` triples in an `Int32Array`: where the song is, or the empty
 * slot where it goes. The all-time table (all_time.ts) keeps its songs so;
 * linear probing, the slots a power of two.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SLOT, songSlot } from "./song_slots.ts";
 * const table = new Int32Array(8 * 3).fill(EMPTY_SLOT);
 * const slot = songSlot(3, 42, table, 8);
 * table.set([3, 42, 7], slot * 3);
 * assert.equal(songSlot(3, 42, table, 8), slot);
 * assert.notEqual(songSlot(3, 43, table, 8), slot);
 * ```
 *
 * @module
 */

/** An unused slot's artist id. */
export const EMPTY_SLOT = -1;

/** The slot of `(artist, song)` in `within` (`slots` triples, a power of two). */
export function songSlot(artist: number, song: number, within: Int32Array, slots: number): number {
  let slot = ((Math.imul(artist, 0x9e3779b1) ^ Math.imul(song, 0x85ebca6b)) >>> 0) & (slots - 1);
  while (
    within[slot * 3] !== EMPTY_SLOT &&
    (within[slot * 3] !== artist || within[slot * 3 + 1] !== song)
  ) slot = (slot + 1) & (slots - 1);
  return slot;
}
