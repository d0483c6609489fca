/**
 * Song names held outside V8's heap: each song (by a small integer, its
 * serial) has the name of its latest play (event time, then `event_id`),
 * kept as UTF-8 in one growing byte arena, with that play's time and id in
 * typed arrays: 33 bytes a song plus its name's UTF-8, all in buffers,
 * and nothing per song on the heap, which the dashboard's 64 MB cap needs.
 * An id is kept as the 16 bytes of its UUID (events carry lowercase UUIDs,
 * whose text sorts like their bytes); any other id, which only a table
 * written by something else could hold, is kept as text beside.
 *
 * A name is written again only when it changes; the bytes it leaves behind
 * are reclaimed by compacting the arena once they are half of it.
 *
 * @module
 */

/** Bytes kept of an `event_id` for ordering names: a UUID's 16. */
const ID_BYTES = 16;

/** `idKinds`: 0 no id yet, 1 a UUID in `ids`, 2 any other id in `otherIds`. */
const UUID_ID = 1;
const OTHER_ID = 2;

/** The value of a lowercase hex digit's code, -1 for any other. */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Whether position `i` of a UUID's text holds a dash. */
function isDash(i: number): boolean {
  return i === 8 || i === 13 || i === 18 || i === 23;
}

/** Writes the 16 bytes of `id` at `at` when it is a lowercase UUID; false otherwise. */
function packUuid(id: string, into: Uint8Array, at: number): boolean {
  if (id.length !== 36) return false;
  let byte = 0;
  for (let i = 0, half = 0; i < 36; i++) {
    const code = id.charCodeAt(i);
    if (isDash(i)) {
      if (code !== 45) return false;
      continue;
    }
    const value = hexValue(code);
    if (value < 0) return false;
    if (half % 2 === 0) byte = value << 4;
    else into[at + (half >> 1)] = byte | value;
    half++;
  }
  return true;
}

/** Each byte's two lowercase hex digits. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** The lowercase text of the UUID whose 16 bytes are at `at`. */
function unpackUuid(from: Uint8Array, at: number): string {
  let text = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += "-";
    text += HEX[from[at + i]!]!;
  }
  return text;
}

/** -1, 0 or 1 as `a` sorts before, with or after `b` (code units). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

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
  /** The `event_id` of that play, `""` before any. */
  id(serial: number): string;
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
 * names.offer(0, "zombie", 2_000, "b0000000-0000-4000-8000-000000000000");
 * names.offer(0, "old name", 1_000, "f0000000-0000-4000-8000-000000000000"); // earlier: ignored
 * names.offer(0, "zombie (live)", 2_000, "c0000000-0000-4000-8000-000000000000"); // tie: larger id
 * assert.equal(names.name(0), "zombie (live)");
 * assert.equal(names.id(0), "c0000000-0000-4000-8000-000000000000");
 * assert.equal(names.name(5), "");
 * // Ids that are not UUIDs order as text.
 * names.offer(1, "a", 1_000, "tutorial-2");
 * names.offer(1, "b", 1_000, "tutorial-10"); // "tutorial-10" < "tutorial-2": ignored
 * names.offer(1, "c", 1_000, "tutorial-3");
 * assert.deepEqual([names.name(1), names.id(1)], ["c", "tutorial-3"]);
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
  let idKinds = new Uint8Array(1024);
  const otherIds = new Map<number, string>();
  const packed = new Uint8Array(ID_BYTES);
  let scratch = new Uint8Array(4096);
  let serials = 0;

  function reserve(length: number): void {
    const before = offsets.length;
    offsets = grown(offsets, length, (n) => new Int32Array(n));
    lengths = grown(lengths, length, (n) => new Int32Array(n));
    times = grown(times, length, (n) => new Float64Array(n));
    idKinds = grown(idKinds, length, (n) => new Uint8Array(n));
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

  /** The id kept for `serial` as text. */
  function keptId(serial: number): string {
    const kind = idKinds[serial];
    if (kind === UUID_ID) return unpackUuid(ids, serial * ID_BYTES);
    return kind === OTHER_ID ? otherIds.get(serial) ?? "" : "";
  }

  /** Compares `id` with the one kept for `serial`: below 0 when `id` sorts first. */
  function compareId(serial: number, id: string): number {
    if (idKinds[serial] === UUID_ID && packUuid(id, packed, 0)) {
      const from = serial * ID_BYTES;
      for (let i = 0; i < ID_BYTES; i++) {
        const diff = packed[i]! - ids[from + i]!;
        if (diff !== 0) return diff;
      }
      return 0;
    }
    return compareText(id, keptId(serial));
  }

  function keepId(serial: number, id: string): void {
    if (packUuid(id, ids, serial * ID_BYTES)) {
      if (idKinds[serial] === OTHER_ID) otherIds.delete(serial);
      idKinds[serial] = UUID_ID;
    } else {
      otherIds.set(serial, id);
      idKinds[serial] = OTHER_ID;
    }
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
    id: (serial) => (serial < serials ? keptId(serial) : ""),
    reserve,
    get bytes() {
      return arena.byteLength + offsets.byteLength + lengths.byteLength + times.byteLength +
        ids.byteLength + idKinds.byteLength;
    },
  };
}
