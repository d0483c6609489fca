/**
 * BigQuery's plays per window bucket, held compactly (20 bytes a bucket, in
 * chunks of typed arrays) between the windows query's pages and the moment
 * both history answers are in and the buckets are counted.
 *
 * @module
 */

import { FINITE_WINDOWS, type FiniteWindowName } from "../counting/mod.ts";

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
 * import { createBucketSeeds } from "./bucket_seeds.ts";
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
