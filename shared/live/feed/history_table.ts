/**
 * BigQuery's all-time answer per song, held compactly: what the dashboard
 * keeps of the history below its anchors, to ask only for the change at the
 * next re-anchoring. One serial per (artist, song) in a `Map` of artist ids
 * and a typed-array hash, the plays in a `Float64Array`, the latest play's
 * name, time and id in {@linkcode createSongNames}'s arena: no object and no
 * string per song on the heap.
 *
 * @module
 */

import { createSongNames } from "../counting/song_names.ts";
import { EMPTY_SLOT, songSlot } from "../counting/song_slots.ts";
import { FINITE_WINDOWS, type FiniteWindowName, type SongHistory } from "../counting/mod.ts";

/** All-time plays per song, with each song's latest play. */
export interface HistoryTable {
  /** Adds a song's plays; its latest play wins the name (event time, then id). */
  add(song: SongHistory): void;
  /** The song keyed `artist/song_id`, `undefined` when absent. */
  get(key: string): SongHistory | undefined;
  /** Every song, one object at a time. */
  values(): Iterable<SongHistory>;
  /** A table holding the same, to add to without touching this one. */
  copy(): HistoryTable;
  /** Songs held. */
  readonly size: number;
}

const EMPTY = EMPTY_SLOT;

/**
 * Creates an empty table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHistoryTable } from "./history_table.ts";
 * const table = createHistoryTable();
 * const song = { artist: "tony-allen", song_id: 1, song_name: "zombie", plays: 2, latestAt: 5, latestId: "b" };
 * table.add(song);
 * table.add({ ...song, song_name: "old", plays: 3, latestAt: 4 });
 * assert.deepEqual(table.get("tony-allen/1"), { ...song, plays: 5 });
 * const copy = table.copy();
 * copy.add({ ...song, plays: 1 });
 * assert.deepEqual([table.get("tony-allen/1")?.plays, copy.get("tony-allen/1")?.plays], [5, 6]);
 * assert.equal(table.size, 1);
 * ```
 */
export function createHistoryTable(): HistoryTable {
  const artistIds = new Map<string, number>();
  const artists: string[] = [];
  const names = createSongNames();
  let songArtist = new Int32Array(1024);
  let songIds = new Float64Array(1024);
  let plays = new Float64Array(1024);
  let serials = 0;
  let capacity = 1024;
  let table = new Int32Array(capacity * 3).fill(EMPTY);
  const wide = new Map<string, number>();

  function newSerial(artist: number, songId: number): number {
    const serial = serials++;
    if (serial >= plays.length) {
      const grow = <T extends Int32Array | Float64Array>(from: T, make: (n: number) => T): T => {
        const next = make(from.length * 2);
        next.set(from);
        return next;
      };
      songArtist = grow(songArtist, (n) => new Int32Array(n));
      songIds = grow(songIds, (n) => new Float64Array(n));
      plays = grow(plays, (n) => new Float64Array(n));
    }
    songArtist[serial] = artist;
    songIds[serial] = songId;
    return serial;
  }

  function find(artistName: string, songId: number, register: boolean): number {
    let artist = artistIds.get(artistName);
    if (artist === undefined) {
      if (!register) return EMPTY;
      artist = artists.length;
      artists.push(artistName);
      artistIds.set(artistName, artist);
    }
    if (songId !== (songId | 0)) {
      const key = `${artist}/${songId}`;
      let serial = wide.get(key);
      if (serial === undefined && register) wide.set(key, serial = newSerial(artist, songId));
      return serial ?? EMPTY;
    }
    let slot = songSlot(artist, songId, table, capacity);
    if (table[slot * 3] === EMPTY) {
      if (!register) return EMPTY;
      if ((serials + 1) * 4 > capacity * 3) {
        const old = table;
        capacity *= 2;
        table = new Int32Array(capacity * 3).fill(EMPTY);
        for (let i = 0; i < old.length; i += 3) {
          if (old[i] !== EMPTY) {
            table.set(old.subarray(i, i + 3), songSlot(old[i]!, old[i + 1]!, table, capacity) * 3);
          }
        }
        slot = songSlot(artist, songId, table, capacity);
      }
      table[slot * 3] = artist;
      table[slot * 3 + 1] = songId;
      table[slot * 3 + 2] = newSerial(artist, songId);
    }
    return table[slot * 3 + 2]!;
  }

  function songAt(serial: number): SongHistory {
    return {
      artist: artists[songArtist[serial]!]!,
      song_id: songIds[serial]!,
      plays: plays[serial]!,
      song_name: names.name(serial),
      latestAt: names.at(serial),
      latestId: names.id(serial),
    };
  }

  const self: HistoryTable = {
    add(song) {
      const serial = find(song.artist, song.song_id, true);
      plays[serial]! += song.plays;
      names.offer(serial, song.song_name, song.latestAt, song.latestId);
    },
    get(key) {
      const slash = key.lastIndexOf("/");
      const serial = find(key.slice(0, slash), Number(key.slice(slash + 1)), false);
      return serial === EMPTY ? undefined : songAt(serial);
    },
    *values() {
      for (let serial = 0; serial < serials; serial++) yield songAt(serial);
    },
    copy() {
      const copy = createHistoryTable();
      for (const song of self.values()) copy.add(song);
      return copy;
    },
    get size() {
      return serials;
    },
  };
  return self;
}

/** BigQuery's plays per window bucket, compact: 20 bytes a bucket. */
export interface BucketSeeds {
  /** Adds `plays` of a song in the bucket of `window` starting at `start` (ms, whole seconds). */
  add(window: FiniteWindowName, artist: string, songId: number, start: number, plays: number): void;
  /**
   * Calls `fn` with every bucket added, in the order added, and lets go of
   * them as it goes (the seeds are empty after): a catalog's millions of
   * buckets are not held twice while they are counted.
   */
  drain(
    fn: (
      window: FiniteWindowName,
      artist: string,
      songId: number,
      start: number,
      plays: number,
    ) => void,
  ): void;
  /** Buckets held. */
  readonly size: number;
  /**
   * Songs held in the window with the most (a song's buckets, added one
   * after the other, count once): an upper bound of the songs the windows
   * will hold, to make room for them at once.
   */
  readonly songs: number;
}

/** Buckets per chunk: the seeds grow a chunk at a time, never by copying. */
const CHUNK = 1 << 16;

interface SeedChunk {
  /** Artist id · 4 + the window's index. */
  keys: Int32Array;
  songIds: Float64Array;
  /** Bucket start in seconds. */
  starts: Uint32Array;
  plays: Int32Array;
}

function newChunk(): SeedChunk {
  return {
    keys: new Int32Array(CHUNK),
    songIds: new Float64Array(CHUNK),
    starts: new Uint32Array(CHUNK),
    plays: new Int32Array(CHUNK),
  };
}

/** What a drained chunk is replaced with, so its buffers can be collected. */
const RELEASED: SeedChunk = {
  keys: new Int32Array(0),
  songIds: new Float64Array(0),
  starts: new Uint32Array(0),
  plays: new Int32Array(0),
};

/**
 * Creates an empty list of bucket seeds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBucketSeeds } from "./history_table.ts";
 * const seeds = createBucketSeeds();
 * seeds.add("5m", "tony-allen", 1, 60_000, 2);
 * seeds.add("24h", "tony-allen", 2, 1_780_000_020_000, 7);
 * seeds.add("24h", "tony-allen", 2, 1_780_000_080_000, 1);
 * assert.equal(seeds.songs, 1); // one song in each window
 * const seen: unknown[] = [];
 * seeds.drain((...bucket) => seen.push(bucket));
 * assert.deepEqual(seen, [
 *   ["5m", "tony-allen", 1, 60_000, 2],
 *   ["24h", "tony-allen", 2, 1_780_000_020_000, 7],
 *   ["24h", "tony-allen", 2, 1_780_000_080_000, 1],
 * ]);
 * assert.equal(seeds.size, 0);
 * assert.throws(() => seeds.add("5m", "x", 1, 1_500, 1), /whole second/);
 * ```
 */
export function createBucketSeeds(): BucketSeeds {
  const artistIds = new Map<string, number>();
  const artists: string[] = [];
  let chunks: SeedChunk[] = [];
  let size = 0;
  const songsIn = FINITE_WINDOWS.map(() => 0);
  let lastKey = -1;
  let lastSongId = Number.NaN;
  return {
    add(window, artist, songId, start, count) {
      const seconds = start / 1000;
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffff_ffff) {
        throw new RangeError(
          `Cannot hold a window bucket: its start must be a whole second since 1970, got ${start} ms`,
        );
      }
      if (!Number.isSafeInteger(count) || count < 0 || count > 0x7fff_ffff) {
        throw new RangeError(`Cannot hold a window bucket of ${count} plays`);
      }
      let id = artistIds.get(artist);
      if (id === undefined) {
        id = artists.length;
        artists.push(artist);
        artistIds.set(artist, id);
      }
      const at = size % CHUNK;
      if (at === 0) chunks.push(newChunk());
      const chunk = chunks[chunks.length - 1]!;
      const key = id * 4 + FINITE_WINDOWS.indexOf(window);
      if (key !== lastKey || songId !== lastSongId) {
        songsIn[key & 3]!++;
        lastKey = key;
        lastSongId = songId;
      }
      chunk.keys[at] = key;
      chunk.songIds[at] = songId;
      chunk.starts[at] = seconds;
      chunk.plays[at] = count;
      size++;
    },
    drain(fn) {
      const held = chunks;
      const total = size;
      chunks = [];
      size = 0;
      songsIn.fill(0);
      for (let c = 0; c < held.length; c++) {
        const chunk = held[c]!;
        const n = Math.min(CHUNK, total - c * CHUNK);
        for (let i = 0; i < n; i++) {
          const key = chunk.keys[i]!;
          fn(
            FINITE_WINDOWS[key & 3]!,
            artists[key >> 2]!,
            chunk.songIds[i]!,
            chunk.starts[i]! * 1000,
            chunk.plays[i]!,
          );
        }
        held[c] = RELEASED;
      }
    },
    get size() {
      return size;
    },
    get songs() {
      return Math.max(...songsIn);
    },
  };
}
