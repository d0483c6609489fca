/**
 * Song names held outside V8's heap: each song (by a small integer, its
 * serial) has the name of its latest play (event time, then `event_id`),
 * kept as UTF-8 in one growing byte arena, with that play's time and id in
 * typed arrays: 53 bytes a song plus its name's UTF-8, all in buffers,
 * and nothing per song on the heap, which the dashboard's 64 MB cap needs.
 *
 * A name is written again only when it changes; the bytes it leaves behind
 * are reclaimed by compacting the arena once they are half of it.
 *
 * @module
 */

/** Bytes kept of an `event_id` for ordering names (a UUID's 36). */
const ID_BYTES = 36;

/** Names by song serial. */
export interface SongNames {
  /**
   * Gives song `serial` the name `name` of a play at `at` (ms) with id `id`,
   * when that play is later than the one that named it (a new serial takes
   * any name).
   */
  offer(serial: number, name: string, at: number, id: string): void;
  /** The name of song `serial` (`""` before any). */
  name(serial: number): string;
  /** Event time of the play that named song `serial`. */
  at(serial: number): number;
  /** The `event_id` of that play (its first 36 characters), `""` before any. */
  id(serial: number): string;
  /** Makes room for songs up to serial `count - 1` at once (no growth by doubling while they come). */
  reserve(count: number): void;
  /** Bytes of the buffers. */
  readonly bytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function grown<T extends Float64Array | Int32Array | Uint8Array>(
  array: T,
  length: number,
  make: (n: number) => T,
): T {
  if (array.length >= length) return array;
  const next = make(Math.max(length, array.length * 2));
  next.set(array);
  return next;
}

/**
 * Creates an empty table of names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSongNames } from "./song_names.ts";
 * const names = createSongNames();
 * names.offer(0, "zombie", 2_000, "b0000000-0000-4000-8000-000000000000");
 * names.offer(0, "old name", 1_000, "f0000000-0000-4000-8000-000000000000"); // earlier: ignored
 * names.offer(0, "zombie (live)", 2_000, "c0000000-0000-4000-8000-000000000000"); // tie: larger id
 * assert.equal(names.name(0), "zombie (live)");
 * assert.equal(names.name(5), "");
 * ```
 */
export function createSongNames(): SongNames {
  let arena = new Uint8Array(1 << 16);
  let used = 0;
  let waste = 0;
  let offsets = new Int32Array(1024).fill(-1);
  let lengths = new Int32Array(1024);
  let times = new Float64Array(1024).fill(Number.NEGATIVE_INFINITY);
  let ids = new Uint8Array(1024 * ID_BYTES);
  let idLengths = new Uint8Array(1024);
  let scratch = new Uint8Array(4096);
  let serials = 0;

  function reserve(length: number): void {
    const before = offsets.length;
    offsets = grown(offsets, length, (n) => new Int32Array(n));
    lengths = grown(lengths, length, (n) => new Int32Array(n));
    times = grown(times, length, (n) => new Float64Array(n));
    idLengths = grown(idLengths, length, (n) => new Uint8Array(n));
    ids = grown(ids, length * ID_BYTES, (n) => new Uint8Array(n));
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

  /** Compares `id` with the one kept for `serial` (its first {@linkcode ID_BYTES} code units). */
  function compareId(serial: number, id: string): number {
    const kept = idLengths[serial]!;
    const n = Math.min(id.length, ID_BYTES);
    for (let i = 0; i < Math.min(n, kept); i++) {
      const diff = id.charCodeAt(i) - ids[serial * ID_BYTES + i]!;
      if (diff !== 0) return diff;
    }
    return n - kept;
  }

  function keepId(serial: number, id: string): void {
    const n = Math.min(id.length, ID_BYTES);
    for (let i = 0; i < n; i++) ids[serial * ID_BYTES + i] = id.charCodeAt(i) & 0xff;
    idLengths[serial] = n;
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

  function write(serial: number, name: string): void {
    if (scratch.length < name.length * 3) scratch = new Uint8Array(name.length * 3);
    const { written } = encoder.encodeInto(name, scratch);
    const from = offsets[serial]!;
    if (from >= 0 && lengths[serial] === written) {
      let same = true;
      for (let i = 0; i < written; i++) {
        if (arena[from + i] !== scratch[i]) {
          same = false;
          break;
        }
      }
      if (same) return; // the usual case: the same name again
    }
    if (from >= 0) waste += lengths[serial]!;
    if (waste > 1 << 20 && waste * 2 > used) compact();
    if (used + written > arena.length) {
      const next = new Uint8Array(Math.max(arena.length * 2, used + written));
      next.set(arena.subarray(0, used));
      arena = next;
    }
    arena.set(scratch.subarray(0, written), used);
    offsets[serial] = used;
    lengths[serial] = written;
    used += written;
  }

  return {
    offer(serial, name, at, id) {
      ensure(serial);
      const known = times[serial]!;
      const fresh = offsets[serial]! < 0;
      if (!fresh && (at < known || (at === known && compareId(serial, id) <= 0))) return;
      write(serial, name);
      times[serial] = at;
      keepId(serial, id);
    },
    name(serial) {
      if (serial >= serials || offsets[serial]! < 0) return "";
      const from = offsets[serial]!;
      return decoder.decode(arena.subarray(from, from + lengths[serial]!));
    },
    at: (serial) => (serial < serials ? times[serial]! : Number.NEGATIVE_INFINITY),
    id(serial) {
      if (serial >= serials) return "";
      const from = serial * ID_BYTES;
      const bytes = ids.subarray(from, from + idLengths[serial]!);
      // ASCII (a UUID) reads as UTF-8 unchanged, and faster than one code at a time.
      return bytes.every((byte) => byte < 0x80)
        ? decoder.decode(bytes)
        : String.fromCharCode(...bytes);
    },
    reserve,
    get bytes() {
      return arena.byteLength + offsets.byteLength + lengths.byteLength + times.byteLength +
        ids.byteLength + idLengths.byteLength;
    },
  };
}
