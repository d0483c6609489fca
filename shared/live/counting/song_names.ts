/**
 * Song names held outside V8's heap: each song (by a small integer, its
 * serial) has the name of its latest play (by event time; at the same time,
 * the name that sorts last by its UTF-8 bytes, as BigQuery's `MAX` orders
 * text), kept as UTF-8 in one growing byte arena, with that play's time in
 * a typed array: 16 bytes a song plus its name's UTF-8, all in buffers, and
 * nothing per song on the heap, which the dashboard's 64 MB cap needs.
 * Ordering ties by the name itself, not by the play's `event_id`, leaves
 * nothing else to keep per song (a million songs: 16 MB less) and nothing
 * more for BigQuery to send.
 *
 * A name is written again only when it changes; the bytes it leaves behind
 * are reclaimed by compacting the arena once they are half of it.
 *
 * @module
 */

/** Names by song serial. */
export interface SongNames {
  /**
   * Gives song `serial` the name `name` of a play at `at` (ms) when that
   * play is later than the one that named it, or as late with a name that
   * sorts after (a new serial takes any name).
   */
  offer(serial: number, name: string, at: number): void;
  /** The name of song `serial` (`""` before any). */
  name(serial: number): string;
  /** Event time of the play that named song `serial`. */
  at(serial: number): number;
  /** Makes room for songs up to serial `count - 1` at once (no growth by doubling while they come). */
  reserve(count: number): void;
  /** Bytes of the buffers. */
  readonly bytes: number;
}

import { grown, grownLength } from "./grown.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Creates an empty table of names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSongNames } from "./song_names.ts";
 * const names = createSongNames();
 * names.offer(0, "zombie (live)", 2_000);
 * names.offer(0, "old name", 1_000); // earlier: ignored
 * names.offer(0, "zombie", 2_000); // as late, sorts first: ignored
 * assert.equal(names.name(0), "zombie (live)");
 * names.offer(0, "zombie (remastered)", 2_000); // as late, sorts after: taken
 * assert.equal(names.name(0), "zombie (remastered)");
 * assert.equal(names.name(5), "");
 * // By UTF-8 bytes (code points), not UTF-16 units: "😀" (U+1F600) sorts after "ｚ" (U+FF5A).
 * names.offer(1, "😀", 1_000);
 * names.offer(1, "ｚ", 1_000);
 * assert.equal(names.name(1), "😀");
 * ```
 */
export function createSongNames(): SongNames {
  let arena = new Uint8Array(1 << 16);
  let used = 0;
  let waste = 0;
  let offsets = new Int32Array(1024).fill(-1);
  let lengths = new Int32Array(1024);
  let times = new Float64Array(1024).fill(Number.NEGATIVE_INFINITY);
  let scratch = new Uint8Array(4096);
  let serials = 0;

  function reserve(length: number): void {
    const before = offsets.length;
    offsets = grown(offsets, length, (n) => new Int32Array(n));
    lengths = grown(lengths, length, (n) => new Int32Array(n));
    times = grown(times, length, (n) => new Float64Array(n));
    if (offsets.length > before) {
      offsets.fill(-1, before);
      times.fill(Number.NEGATIVE_INFINITY, before);
    }
  }

  function ensure(serial: number): void {
    if (serial < serials) return;
    reserve(serial + 1);
    serials = serial + 1;
  }

  /** Writes `name`'s UTF-8 into `scratch`; its length. */
  function encode(name: string): number {
    if (scratch.length < name.length * 3) scratch = new Uint8Array(name.length * 3);
    return encoder.encodeInto(name, scratch).written;
  }

  /**
   * Compares the `written` bytes in `scratch` with the name kept for
   * `serial`, byte by byte: below 0 when the new name sorts first, 0 when
   * they are the same.
   */
  function compareKept(serial: number, written: number): number {
    const from = offsets[serial]!;
    const length = lengths[serial]!;
    for (let i = 0; i < Math.min(written, length); i++) {
      const diff = scratch[i]! - arena[from + i]!;
      if (diff !== 0) return diff;
    }
    return written - length;
  }

  function compact(): void {
    const next = new Uint8Array(Math.max(1 << 16, (used - waste) * 2));
    let at = 0;
    for (let serial = 0; serial < serials; serial++) {
      const from = offsets[serial]!;
      if (from < 0) continue;
      next.set(arena.subarray(from, from + lengths[serial]!), at);
      offsets[serial] = at;
      at += lengths[serial]!;
    }
    arena = next;
    used = at;
    waste = 0;
  }

  /** Keeps the `written` bytes in `scratch` as the name of `serial`. */
  function write(serial: number, written: number): void {
    const from = offsets[serial]!;
    if (from >= 0) waste += lengths[serial]!;
    if (waste > 1 << 20 && waste * 2 > used) compact();
    if (used + written > arena.length) {
      const next = new Uint8Array(grownLength(arena.length, used + written));
      next.set(arena.subarray(0, used));
      arena = next;
    }
    arena.set(scratch.subarray(0, written), used);
    offsets[serial] = used;
    lengths[serial] = written;
    used += written;
  }

  return {
    offer(serial, name, at) {
      ensure(serial);
      const known = times[serial]!;
      const fresh = offsets[serial]! < 0;
      if (!fresh && at < known) return;
      const written = encode(name);
      // The same name again (the usual case), or as late and sorting first: kept as is.
      const order = fresh ? 1 : compareKept(serial, written);
      if (order === 0 || (order < 0 && at === known)) {
        times[serial] = at;
        return;
      }
      write(serial, written);
      times[serial] = at;
    },
    name(serial) {
      if (serial >= serials || offsets[serial]! < 0) return "";
      const from = offsets[serial]!;
      return decoder.decode(arena.subarray(from, from + lengths[serial]!));
    },
    at: (serial) => (serial < serials ? times[serial]! : Number.NEGATIVE_INFINITY),
    reserve,
    get bytes() {
      return arena.byteLength + offsets.byteLength + lengths.byteLength + times.byteLength;
    },
  };
}
