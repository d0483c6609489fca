/**
 * Windowed play counting for the live dashboard, on event time, with
 * deduplication and top-N queries. Pure: no I/O, time is passed in.
 *
 * Each finite window (`5m`, `1h`, `24h`) keeps per-song counts in event-time
 * buckets (1 s, 10 s and 60 s wide) plus running totals. At wall time `now`
 * a window covers events whose timestamp is at or after
 * `from = ceil((now - length) / bucket) * bucket` (no upper bound, so a
 * producer whose clock runs ahead is not hidden): whole buckets, at most
 * `length` long. Buckets that fall before `from` are evicted and their counts
 * subtracted, so counts drop as plays age out without any new event. `all`
 * keeps totals only. Every answer carries its `from`, so BigQuery can be asked
 * for exactly the same range.
 *
 * Duplicates (same `event_id`) read within the dedup horizon (default 10
 * minutes) are counted once, whatever the window. Events read more than
 * `allowedLatenessMs` after their event time (measured against the Kafka
 * record time) count in `all` only.
 *
 * Besides plays read one by one, the counter takes BigQuery's aggregated
 * counts of the history ({@linkcode PlayCounter.seedSong} for all time,
 * {@linkcode PlayCounter.seedBucket} for a window's bucket): the dashboard
 * starts from those and adds only what Kafka holds above the consumer's
 * committed offsets (see feed/history.ts and feed/live_feed.ts).
 *
 * @module
 */

import type { SongCompleted } from "../../event.ts";
import { parseEventTime } from "../../event_time.ts";
import { createAllTimeCounts } from "./all_time.ts";
import type { SongPlays } from "./song_plays.ts";
import type { SongHistory } from "./song_history.ts";
import { createNameOrder, createNameSearch, orderByTotal } from "./artist_order.ts";
import { createIntCounts, type IntCounts } from "./int_counts.ts";
import { createRecentIds } from "./recent_ids.ts";
import {
  DEFAULT_DEDUP_HORIZON_MS,
  FINITE_WINDOWS,
  type FiniteWindowName,
  heldFrom,
  KEEPS_PREVIOUS,
  LONGEST_WINDOW_MS,
  pointOf,
  type SeriesLayout,
  seriesLayout,
  type WindowName,
  WINDOWS,
  type WindowSpec,
  windowStart,
} from "./calendar.ts";
import { grown } from "./grown.ts";

export {
  DEFAULT_DEDUP_HORIZON_MS,
  FINITE_WINDOWS,
  type FiniteWindowName,
  heldFrom,
  isWindowName,
  LONGEST_WINDOW_MS,
  MAX_SERIES_POINTS,
  pointOf,
  type RankChange,
  rankChange,
  type SeriesLayout,
  seriesLayout,
  WINDOW_NAMES,
  type WindowName,
  WINDOWS,
  type WindowSpec,
  windowStart,
} from "./calendar.ts";

export type { SongPlays } from "./song_plays.ts";
export type { SongHistory } from "./song_history.ts";

/** The top songs of an artist in a window. */
export interface TopSongs {
  artist: string;
  window: WindowName;
  /** Window start (ms since the epoch), `undefined` for `all`. */
  from: number | undefined;
  /** Plays of the artist in the window, all songs. */
  total: number;
  /** Most played first; ties by `song_id`. */
  songs: SongPlays[];
  /** Plays per second over the last minute of event time. */
  playsPerSecond: number;
  /** Latest event time of the artist (ms), `undefined` before the first play. */
  lastEventAt: number | undefined;
}

/** What a window's top songs are moving like (see {@linkcode PlayCounter.trends}). */
export interface SongTrends {
  layout: SeriesLayout;
  /** `song_id` (of the songs asked) → plays per point of `layout`, for songs with plays. */
  series: Map<number, number[]>;
  /** The artist's plays per point of `layout`, all songs. */
  total: number[];
  /**
   * `song_id` (of the songs asked, with plays then) → rank among all the
   * artist's songs over the period just before the window (as long as the
   * window, ending at its start); `undefined` when that period is not held
   * (24 hours, or not a full period read since start).
   */
  previousRanks: Map<number, number> | undefined;
}

/** An artist and their plays of all time. */
export interface ArtistPlays {
  artist: string;
  plays: number;
}

/** An artist's plays in a window and their most played song in it. */
export interface ArtistWindowTotal {
  artist: string;
  /** Plays of the artist in the window (equal to `top()`'s `total`). */
  total: number;
  /** Their most played song in the window, `null` without plays in it. */
  top: SongPlays | null;
}

/** Outcome of {@linkcode PlayCounter.add}. */
export type AddResult = "counted" | "duplicate" | "late";

/** Counters over everything added. */
export interface CounterStats {
  counted: number;
  duplicates: number;
  late: number;
  /** All-time plays taken from BigQuery's history. */
  seeded: number;
  /** Songs held for the windows (with plays in a held bucket). */
  songs: number;
  /** Artists held for the windows (with a song held). */
  artists: number;
  /** Songs given back since start, their plays having left every window. */
  evictedSongs: number;
  /** Songs with plays of all time. */
  allTimeSongs: number;
  /** Artists with plays of all time. */
  allTimeArtists: number;
  /** Ids held for deduplication (those read within the horizon). */
  dedupIds: number;
  /** Bytes of the dedup tables. */
  dedupBytes: number;
  /** Buckets held across the finite windows. */
  buckets: number;
}

/** Windowed counts of plays. */
export interface PlayCounter {
  /**
   * Counts `event` (read at Kafka record time `readAt`, ms) unless its id was
   * seen before.
   */
  add(event: SongCompleted, readAt?: number): AddResult;
  /**
   * Adds BigQuery's all-time plays of a song (history not read from Kafka);
   * its latest play sets the name and last event time when newer.
   */
  seedSong(song: SongHistory): void;
  /**
   * Calls `fn` with every song seeded: BigQuery's plays of it (those read
   * from Kafka left out), with its latest play known. A counter anchored
   * further on starts from these and asks BigQuery only for what changed.
   */
  forEachSeeded(fn: (song: SongHistory) => void): void;
  /**
   * Makes room, at once, for `songs` songs of all time and `windowSongs`
   * songs in the windows, in all (a history about to be seeded): buffers
   * sized once instead of doubled while a catalog comes in.
   */
  reserve(songs: number, windowSongs: number): void;
  /**
   * Adds BigQuery's plays of a song in the bucket of `window` starting at
   * `bucketStart` (ms); ignored when that bucket has already left the
   * window. In any order with the song's all time (which brings the name).
   */
  seedBucket(
    window: FiniteWindowName,
    song: { artist: string; song_id: number },
    bucketStart: number,
    plays: number,
  ): void;
  /** Evicts buckets that left their window at wall time `now`, and old dedup ids. */
  advance(now: number): void;
  /** Top `limit` songs of `artist` in `window` at `now` (evicts first). */
  top(artist: string, window: WindowName, limit: number, now: number): TopSongs;
  /**
   * The artist's plays over time in finite `window` at `now` (evicts first),
   * and for each of `songIds` its own series and its rank in the period
   * before; `undefined` for `all`. Only the asked songs get a series and a
   * rank, so an artist with a million songs costs what the page shows.
   */
  trends(
    artist: string,
    window: WindowName,
    now: number,
    songIds: readonly number[],
  ): SongTrends | undefined;
  /** Artists seen, most played first (ties by name). */
  artists(): ArtistPlays[];
  /**
   * Every artist with plays in `window` at `now` (evicts first): their plays
   * and most played song, in no particular order. Kept up to date on each
   * play, so this costs one entry per artist, not a scan of their songs.
   */
  overview(window: WindowName, now: number): ArtistWindowTotal[];
  /**
   * Ids of the artists with plays in `window` at `now`, most played first,
   * ties by name (see artist_order.ts); {@linkcode PlayCounter.artistIn}
   * tells each one's current numbers.
   */
  artistOrder(window: WindowName, now: number): Int32Array;
  /** The artist of id `id` (from {@linkcode PlayCounter.artistOrder}): plays and top song in `window`. */
  artistIn(window: WindowName, id: number): ArtistWindowTotal;
  /** The artist of id `id` and their all-time plays. */
  artistAt(id: number): ArtistPlays;
  /** The name of the artist of id `id`. */
  artistName(id: number): string;
  /** Ids of the artists whose name contains `part`, in no particular order. */
  findArtists(part: string): number[];
  /** Latest event time of any play (ms), `undefined` before the first. */
  newestEventAt(): number | undefined;
  /**
   * A number that changes whenever a count of `artist` does (a play, a seed,
   * a bucket leaving a window); -1 for an artist never seen. What a view of
   * one artist shows changes otherwise only with time.
   */
  changeOf(artist: string): number;
  /**
   * Every song's plays in `window` at `now`, keyed `artist/song_id`; songs
   * without plays are left out. A key per song: for small counters (tests).
   */
  counts(window: WindowName, now: number): { from: number | undefined; plays: Map<string, number> };
  /**
   * Every song's plays in `window` at `now` by serial (see
   * {@linkcode PlayCounter.findSong}), 0 for a song without any: one number
   * a song ever seen and nothing per song on the heap, what a reconciliation
   * of a whole catalog compares.
   */
  playsBySong(window: WindowName, now: number): { from: number | undefined; plays: Float64Array };
  /** The serial of song `songId` of `artist`, -1 when never seen (registers nothing). */
  findSong(artist: string, songId: number): number;
  /** The artist and `song_id` of song `serial`. */
  songBySerial(serial: number): { artist: string; song_id: number };
  readonly stats: CounterStats;
}

/** Options of {@linkcode createPlayCounter}. */
export interface PlayCounterOptions {
  /** Events later than this count in `all` only (default: the longest window). */
  allowedLatenessMs?: number;
  /** Ids are remembered at least this long (default {@linkcode DEFAULT_DEDUP_HORIZON_MS}). */
  dedupHorizonMs?: number;
  /** Wall time at creation (default `Date.now()`). */
  now?: number;
  /**
   * Event time from which every play is added (default: what each window
   * holds at `now`, see {@linkcode heldFrom}, as when BigQuery's history is
   * seeded): a previous period starting earlier has no ranks.
   */
  completeFrom?: number;
}

interface Ring {
  name: WindowName;
  spec: WindowSpec;
  from: number;
  /** Buckets from here are held: `from`, less one window for 5m and 1h (the previous period). */
  keepFrom: number;
  /** Buckets are complete from here (the window's start when created). */
  completeFrom: number;
  /** Bucket start → (song index → plays), compact (see int_counts.ts). */
  buckets: Map<number, IntCounts>;
  /** Bucket starts, ascending. */
  starts: number[];
  /** Song index → plays in the window (32 bits, like the buckets' counts). */
  totals: Int32Array;
  /** Artist id → plays in the window. */
  artistTotals: Float64Array;
  /** Artist id → index of their most played song in the window (-1: none), unless dirty. */
  artistTop: Int32Array;
  /** Artist id → 1 when their most played song lost plays: found again when asked. */
  dirty: Uint8Array;
}

const RATE_WINDOW_MS = 60_000;

/** Index of the first value at or above `value` in ascending `values`. */
function lowerBound(values: readonly number[], value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Key of a song in {@linkcode PlayCounter.counts}. */
export function songKey(artist: string, songId: number): string {
  return `${artist}/${songId}`;
}

/**
 * Orders songs most played first, then by `song_id` (deterministic ties).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareSongs } from "./windows.ts";
 * const songs = [
 *   { song_id: 2, song_name: "b", plays: 3 },
 *   { song_id: 1, song_name: "a", plays: 3 },
 *   { song_id: 3, song_name: "c", plays: 5 },
 * ];
 * assert.deepEqual(songs.sort(compareSongs).map((song) => song.song_id), [3, 1, 2]);
 * ```
 */
export function compareSongs(a: SongPlays, b: SongPlays): number {
  return b.plays - a.plays || a.song_id - b.song_id;
}

function insertSorted(values: number[], value: number): void {
  let lo = 0;
  let hi = values.length;
  if (hi === 0 || values[hi - 1]! < value) {
    values.push(value);
    return;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  values.splice(lo, 0, value);
}

/**
 * Creates an empty counter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPlayCounter } from "./windows.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const counter = createPlayCounter({ now });
 * const play = {
 *   event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a", user_id: 1, artist: "tony-allen",
 *   song_id: 1, song_name: "zombie", event_type: "song_completed" as const,
 *   timestamp: new Date(now - 1_000).toISOString(),
 * };
 * assert.equal(counter.add(play), "counted");
 * assert.equal(counter.add(play), "duplicate");
 * assert.deepEqual(
 *   counter.top("tony-allen", "5m", 10, now).songs,
 *   [{ song_id: 1, song_name: "zombie", plays: 1 }],
 * );
 * ```
 */
export function createPlayCounter(options: PlayCounterOptions = {}): PlayCounter {
  const lateness = options.allowedLatenessMs ?? LONGEST_WINDOW_MS;
  const seen = createRecentIds({
    horizonMs: options.dedupHorizonMs ?? DEFAULT_DEDUP_HORIZON_MS,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  // Every artist and song is registered in the all-time counts (ids and
  // serials, names and counts in typed arrays); a song gets an index here
  // only while it has plays in a held bucket, and gives it back (reused)
  // when the last such bucket goes. Everything per song is in typed arrays.
  const allTime = createAllTimeCounts();
  const nameOrder = createNameOrder(allTime.names);
  const nameSearch = createNameSearch(allTime.names);
  let held = 0;
  /** The song of the last seeded bucket, by name and id (see `seedBucket`). */
  const seeding = { artist: "", songId: Number.NaN, serial: -1 };
  let indexes = 0; // indexes handed out (held or free)
  const free: number[] = [];
  let songSerial = new Int32Array(1024).fill(-1); // -1 when free
  let songArtist = new Int32Array(1024).fill(-1);
  /** Song index → (ring, bucket) entries holding it; 0 means evicted (or free). */
  let songBuckets = new Int32Array(1024);
  // Each artist's held songs, a doubly linked list through the song indexes.
  let songNext = new Int32Array(1024).fill(-1);
  let songPrev = new Int32Array(1024).fill(-1);
  let artistHead = new Int32Array(1024).fill(-1);
  let artistsHeld = 0;
  /** Artist id → changes of their counts (see `changeOf`). */
  let artistChanges = new Float64Array(1024);
  const rings: Ring[] = FINITE_WINDOWS.map((name) => ({
    name,
    spec: WINDOWS[name],
    from: Number.NEGATIVE_INFINITY,
    keepFrom: Number.NEGATIVE_INFINITY,
    completeFrom: options.completeFrom ?? heldFrom(name, options.now ?? Date.now()),
    buckets: new Map(),
    starts: [],
    totals: new Int32Array(1024),
    artistTotals: new Float64Array(1024),
    artistTop: new Int32Array(1024).fill(-1),
    dirty: new Uint8Array(1024),
  }));
  const ringOf = new Map(rings.map((ring) => [ring.name, ring]));
  const stats = { counted: 0, duplicates: 0, late: 0, seeded: 0, evictedSongs: 0 };
  let newest = Number.NEGATIVE_INFINITY;

  /** Makes room for artist `id` in the per-artist arrays. */
  function ensureArtist(id: number): void {
    if (artistHead.length > id) return;
    artistHead = grown(artistHead, id + 1, (n) => new Int32Array(n), -1);
    for (const ring of rings) {
      ring.artistTotals = grown(ring.artistTotals, id + 1, (n) => new Float64Array(n));
      ring.artistTop = grown(ring.artistTop, id + 1, (n) => new Int32Array(n), -1);
      ring.dirty = grown(ring.dirty, id + 1, (n) => new Uint8Array(n));
    }
  }

  /** A fresh song index (reused when one is free). */
  function newIndex(): number {
    const reused = free.pop();
    if (reused !== undefined) return reused;
    const index = indexes++;
    if (songSerial.length <= index) {
      songSerial = grown(songSerial, index + 1, (n) => new Int32Array(n), -1);
      songArtist = grown(songArtist, index + 1, (n) => new Int32Array(n), -1);
      songBuckets = grown(songBuckets, index + 1, (n) => new Int32Array(n));
      songNext = grown(songNext, index + 1, (n) => new Int32Array(n), -1);
      songPrev = grown(songPrev, index + 1, (n) => new Int32Array(n), -1);
      for (const ring of rings) {
        ring.totals = grown(ring.totals, index + 1, (n) => new Int32Array(n));
      }
    }
    return index;
  }

  /** The index of song `serial` for the windows, given one when it has none. */
  function songOf(serial: number): number {
    const known = allTime.hotAt(serial);
    if (known >= 0) return known;
    const index = newIndex();
    const artist = allTime.artistOf(serial);
    songSerial[index] = serial;
    songArtist[index] = artist;
    allTime.setHotAt(serial, index);
    held++;
    ensureArtist(artist);
    const head = artistHead[artist]!;
    if (head < 0) artistsHeld++;
    songNext[index] = head;
    songPrev[index] = -1;
    if (head >= 0) songPrev[head] = index;
    artistHead[artist] = index;
    return index;
  }

  /** The held songs of artist `id`. */
  function* songsOf(id: number | undefined): Generator<number> {
    if (id === undefined || id >= artistHead.length) return;
    for (let index = artistHead[id]!; index >= 0; index = songNext[index]!) yield index;
  }

  /** Gives a song's index back once no held bucket counts it (its window totals are 0). */
  function evict(index: number): void {
    const artist = songArtist[index]!;
    allTime.setHotAt(songSerial[index]!, -1);
    const [next, prev] = [songNext[index]!, songPrev[index]!];
    if (prev >= 0) songNext[prev] = next;
    else artistHead[artist] = next;
    if (next >= 0) songPrev[next] = prev;
    if (artistHead[artist]! < 0) artistsHeld--;
    songSerial[index] = -1;
    songArtist[index] = -1;
    free.push(index);
    held--;
    stats.evictedSongs++;
  }

  /** Notes that a count of artist `id` changed. */
  function changed(id: number): void {
    if (artistChanges.length <= id) {
      artistChanges = grown(artistChanges, id + 1, (n) => new Float64Array(n));
    }
    artistChanges[id]!++;
  }

  function playsBySong(
    window: WindowName,
    now: number,
  ): { from: number | undefined; plays: Float64Array } {
    advance(now);
    const plays = new Float64Array(allTime.serials);
    if (window === "all") {
      for (let serial = 0; serial < plays.length; serial++) plays[serial] = allTime.playsOf(serial);
    } else {
      for (let index = 0; index < indexes; index++) {
        const serial = songSerial[index]!;
        if (serial >= 0) plays[serial] = playsIn(window, index);
      }
    }
    return { from: windowStart(window, now), plays };
  }

  function songBySerial(serial: number): { artist: string; song_id: number } {
    return { artist: allTime.names[allTime.artistOf(serial)]!, song_id: allTime.songIdOf(serial) };
  }

  function songIdAt(index: number): number {
    return allTime.songIdOf(songSerial[index]!);
  }

  function addToBucket(ring: Ring, start: number, index: number, plays: number): void {
    if (start < ring.keepFrom) return; // already out of this window for good
    let bucket = ring.buckets.get(start);
    if (bucket === undefined) {
      bucket = createIntCounts();
      ring.buckets.set(start, bucket);
      insertSorted(ring.starts, start);
    }
    const size = bucket.size;
    bucket.add(index, plays);
    changed(songArtist[index]!);
    if (bucket.size > size) songBuckets[index]!++;
    if (start >= ring.from) countIn(ring, index, plays);
  }

  /** Whether song `a` ranks before song `b` in `ring` (most played, then smaller id). */
  function ranksBefore(ring: Ring, a: number, b: number): boolean {
    const left = ring.totals[a]!;
    const right = ring.totals[b]!;
    return left > right || (left === right && songIdAt(a) < songIdAt(b));
  }

  /** Adds plays of a song to `ring`'s totals: the song's, its artist's and their top song. */
  function countIn(ring: Ring, index: number, plays: number): void {
    ring.totals[index]! += plays;
    const artist = songArtist[index]!;
    ring.artistTotals[artist]! += plays;
    if (ring.dirty[artist] === 1) return;
    const top = ring.artistTop[artist]!;
    if (top < 0 || top === index || ranksBefore(ring, index, top)) ring.artistTop[artist] = index;
  }

  /** Takes plays of a song out of `ring`'s totals (its bucket left the window). */
  function uncountIn(ring: Ring, index: number, plays: number): void {
    ring.totals[index]! -= plays;
    const artist = songArtist[index]!;
    changed(artist);
    const left = (ring.artistTotals[artist]! -= plays);
    if (left <= 0) {
      ring.artistTop[artist] = -1;
      ring.dirty[artist] = 0;
    } else if (ring.artistTop[artist] === index) {
      ring.dirty[artist] = 1;
    }
  }

  /** The artist's most played song in `ring`, -1 without plays in it. */
  function topIn(ring: Ring, artist: number): number {
    if (!((ring.artistTotals[artist] ?? 0) > 0)) return -1;
    if (ring.dirty[artist] !== 1) return ring.artistTop[artist]!;
    let best = -1;
    for (const index of songsOf(artist)) {
      if (ring.totals[index]! > 0 && (best < 0 || ranksBefore(ring, index, best))) best = index;
    }
    ring.dirty[artist] = 0;
    ring.artistTop[artist] = best;
    return best;
  }

  function advance(now: number): void {
    seen.advance(now);
    for (const ring of rings) {
      const from = windowStart(ring.name, now)!;
      if (from <= ring.from) continue;
      // Buckets in [old from, from) leave the totals; those before keepFrom go.
      const end = lowerBound(ring.starts, from);
      for (let i = lowerBound(ring.starts, ring.from); i < end; i++) {
        ring.buckets.get(ring.starts[i]!)!.forEach((index, plays) => uncountIn(ring, index, plays));
      }
      ring.from = from;
      ring.keepFrom = heldFrom(ring.name as FiniteWindowName, now);
      const gone = lowerBound(ring.starts, ring.keepFrom);
      for (const start of ring.starts.splice(0, gone)) {
        ring.buckets.get(start)!.forEach((index) => {
          changed(songArtist[index]!); // its previous period (rank changes)
          if (--songBuckets[index]! === 0) evict(index);
        });
        ring.buckets.delete(start);
      }
    }
  }

  function playsIn(window: FiniteWindowName, index: number): number {
    return ringOf.get(window)!.totals[index]!;
  }

  /**
   * Calls `fn` with each bucket of `ring` from `first` (an index of its
   * starts) to `end` and, within it, each of `songs` with its plays there.
   * Looks the few songs of one artist up in each bucket, unless the buckets
   * hold fewer entries than that: then it reads the buckets whole. Either
   * way the cost is the smaller of the two, never the whole ring for every
   * viewer of a small artist.
   */
  function forEachPlay(
    ring: Ring,
    first: number,
    end: number,
    artist: number,
    fn: (start: number, index: number, plays: number) => void,
  ): void {
    if (artist >= artistHead.length) return;
    let entries = 0;
    for (let i = first; i < end; i++) entries += ring.buckets.get(ring.starts[i]!)!.size;
    let songs = 0;
    for (let index = artistHead[artist]!; index >= 0; index = songNext[index]!) songs++;
    const lookUp = songs * (end - first) < entries;
    for (let i = first; i < end; i++) {
      const start = ring.starts[i]!;
      const bucket = ring.buckets.get(start)!;
      if (lookUp) {
        for (let index = artistHead[artist]!; index >= 0; index = songNext[index]!) {
          const plays = bucket.get(index);
          if (plays > 0) fn(start, index, plays);
        }
      } else {
        bucket.forEach((index, plays) => {
          if (songArtist[index] === artist) fn(start, index, plays);
        });
      }
    }
  }

  /**
   * Ranks (1 = most played, ties by `song_id`) among the songs of
   * `previous` (song index → plays) of those of `songIds` that have plays
   * there: each compared with every song once, nothing sorted or kept per
   * song.
   */
  function ranksAmong(previous: IntCounts, songIds: readonly number[]): Map<number, number> {
    const wanted = new Set(songIds);
    const ids: number[] = [];
    const plays: number[] = [];
    previous.forEach((index, count) => {
      const id = songIdAt(index);
      if (wanted.has(id)) {
        ids.push(id);
        plays.push(count);
      }
    });
    const ranks = ids.map(() => 1);
    previous.forEach((index, count) => {
      const id = songIdAt(index);
      for (let i = 0; i < ids.length; i++) {
        if (count > plays[i]! || (count === plays[i] && id < ids[i]!)) ranks[i]!++;
      }
    });
    return new Map(
      songIds.filter((id) => ids.includes(id)).map((id) => [id, ranks[ids.indexOf(id)]!]),
    );
  }

  function recentPlays(artist: number, now: number): number {
    const ring = ringOf.get("5m")!;
    const first = lowerBound(ring.starts, now - RATE_WINDOW_MS);
    const end = lowerBound(ring.starts, now + 1);
    let plays = 0;
    forEachPlay(ring, first, end, artist, (_start, _index, count) => {
      plays += count;
    });
    return plays;
  }

  function songAt(index: number, plays: number): SongPlays {
    const serial = songSerial[index]!;
    return { song_id: allTime.songIdOf(serial), song_name: allTime.name(serial), plays };
  }

  function entryIn(window: WindowName, id: number): ArtistWindowTotal {
    const artist = allTime.names[id]!;
    if (window === "all") {
      const { total, songs } = allTime.top(id, 1);
      return { artist, total, top: songs[0] ?? null };
    }
    const ring = ringOf.get(window)!;
    const index = topIn(ring, id);
    return {
      artist,
      total: ring.artistTotals[id] ?? 0,
      top: index < 0 ? null : songAt(index, ring.totals[index]!),
    };
  }

  /** Ids of the artists with plays in `window`. */
  function playedIn(window: WindowName): number[] {
    const ids: number[] = [];
    const count = allTime.names.length;
    if (window === "all") {
      for (let id = 0; id < count; id++) if (allTime.playsAt(id) > 0) ids.push(id);
    } else {
      const totals = ringOf.get(window)!.artistTotals;
      for (let id = 0; id < Math.min(count, totals.length); id++) {
        if (totals[id]! > 0) ids.push(id);
      }
    }
    return ids;
  }

  /** Registers a play or a seed of all time; its song's serial. */
  function addAllTime(
    artist: string,
    songId: number,
    plays: number,
    naming: { song_name: string; at: number },
    fromHistory = false,
  ): number {
    const id = allTime.artistId(artist);
    const serial = allTime.song(id, songId);
    if (fromHistory) allTime.seed(serial, plays, naming);
    else allTime.add(serial, plays, naming);
    changed(id);
    return serial;
  }

  advance(options.now ?? Date.now());

  return {
    add(event, readAt) {
      if (!seen.add(event.event_id)) {
        stats.duplicates++;
        return "duplicate";
      }
      const time = parseEventTime(event.timestamp);
      const serial = addAllTime(event.artist, event.song_id, 1, {
        song_name: event.song_name,
        at: time,
      });
      if (time > newest) newest = time;
      if (readAt !== undefined && readAt - time > lateness) {
        stats.late++;
        return "late";
      }
      stats.counted++;
      const index = songOf(serial);
      for (const ring of rings) {
        addToBucket(ring, Math.floor(time / ring.spec.bucketMs) * ring.spec.bucketMs, index, 1);
      }
      if (songBuckets[index] === 0) evict(index); // older than every held bucket
      return "counted";
    },
    reserve(songs, windowSongs) {
      allTime.reserve(songs);
      const length = windowSongs;
      if (songSerial.length < length) {
        songSerial = grown(songSerial, length, (n) => new Int32Array(n), -1);
        songArtist = grown(songArtist, length, (n) => new Int32Array(n), -1);
        songBuckets = grown(songBuckets, length, (n) => new Int32Array(n));
        songNext = grown(songNext, length, (n) => new Int32Array(n), -1);
        songPrev = grown(songPrev, length, (n) => new Int32Array(n), -1);
        for (const ring of rings) {
          ring.totals = grown(ring.totals, length, (n) => new Int32Array(n));
        }
      }
    },
    seedSong(song) {
      if (song.plays <= 0) return;
      addAllTime(song.artist, song.song_id, song.plays, {
        song_name: song.song_name,
        at: song.latestAt,
      }, true);
      if (song.latestAt > newest) newest = song.latestAt;
      stats.seeded += song.plays;
    },
    forEachSeeded: (fn) => allTime.forEachSeeded(fn),
    seedBucket(window, song, bucketStart, plays) {
      if (plays <= 0) return;
      // A song's buckets come one after another: looked up once for them all.
      if (song.artist !== seeding.artist || song.song_id !== seeding.songId) {
        seeding.serial = allTime.song(allTime.artistId(song.artist), song.song_id);
        seeding.artist = song.artist;
        seeding.songId = song.song_id;
      }
      const index = songOf(seeding.serial);
      addToBucket(ringOf.get(window)!, bucketStart, index, plays);
      if (songBuckets[index] === 0) evict(index);
    },
    advance,
    top(artist, window, limit, now) {
      advance(now);
      const id = allTime.indexOf(artist);
      let songs: SongPlays[] = [];
      let total = 0;
      if (id === undefined) {
        // nothing known
      } else if (window === "all") {
        ({ total, songs } = allTime.top(id, limit));
      } else {
        const ring = ringOf.get(window)!;
        const mine: number[] = [];
        for (const index of songsOf(id)) {
          if (ring.totals[index]! <= 0) continue;
          total += ring.totals[index]!;
          mine.push(index);
        }
        mine.sort((a, b) => (ranksBefore(ring, a, b) ? -1 : 1));
        songs = mine.slice(0, limit).map((index) => songAt(index, ring.totals[index]!));
      }
      return {
        artist,
        window,
        from: windowStart(window, now),
        total,
        songs,
        playsPerSecond: id !== undefined && id < artistHead.length && artistHead[id]! >= 0
          ? recentPlays(id, now) / (RATE_WINDOW_MS / 1000)
          : 0,
        lastEventAt: id === undefined ? undefined : allTime.lastEventAt(id),
      };
    },
    trends(artist, window, now, songIds) {
      if (window === "all") return undefined;
      advance(now);
      const ring = ringOf.get(window)!;
      const layout = seriesLayout(window, now);
      const total = new Array<number>(layout.points).fill(0);
      const series = new Map<number, number[]>();
      const previous = createIntCounts(); // song index → plays in the period before
      const wanted = new Set(songIds);
      const id = allTime.indexOf(artist);
      if (id !== undefined) {
        forEachPlay(ring, 0, ring.starts.length, id, (start, index, plays) => {
          if (start < ring.from) return previous.add(index, plays);
          const point = pointOf(layout, start);
          if (point < 0) return;
          total[point]! += plays;
          const songId = songIdAt(index);
          if (!wanted.has(songId)) return;
          let points = series.get(songId);
          if (points === undefined) {
            series.set(songId, points = new Array<number>(layout.points).fill(0));
          }
          points[point]! += plays;
        });
      }
      const held = KEEPS_PREVIOUS[window] && ring.from - ring.spec.lengthMs! >= ring.completeFrom;
      return {
        layout,
        series,
        total,
        previousRanks: held ? ranksAmong(previous, songIds) : undefined,
      };
    },
    newestEventAt: () => newest === Number.NEGATIVE_INFINITY ? undefined : newest,
    changeOf(artist) {
      const id = allTime.indexOf(artist);
      return id === undefined ? -1 : artistChanges[id] ?? 0;
    },
    overview(window, now) {
      advance(now);
      return playedIn(window).map((id) => entryIn(window, id));
    },
    artistOrder(window, now) {
      advance(now);
      if (window === "all") return orderByTotal(allTime.playsAt, nameOrder);
      const totals = ringOf.get(window)!.artistTotals;
      return orderByTotal((id) => totals[id] ?? 0, nameOrder);
    },
    artistIn: entryIn,
    artistAt: (id) => ({ artist: allTime.names[id]!, plays: allTime.playsAt(id) }),
    artistName: (id) => allTime.names[id]!,
    findArtists: (part) => nameSearch.find(part),
    artists() {
      return playedIn("all").map((id) => ({
        artist: allTime.names[id]!,
        plays: allTime.playsAt(id),
      })).sort((a, b) => b.plays - a.plays || (a.artist < b.artist ? -1 : 1));
    },
    counts(window, now) {
      const { from, plays } = playsBySong(window, now);
      const keyed = new Map<string, number>();
      for (let serial = 0; serial < plays.length; serial++) {
        if (plays[serial]! <= 0) continue;
        const { artist, song_id } = songBySerial(serial);
        keyed.set(songKey(artist, song_id), plays[serial]!);
      }
      return { from, plays: keyed };
    },
    playsBySong,
    findSong(artist, songId) {
      const id = allTime.indexOf(artist);
      return id === undefined ? -1 : allTime.find(id, songId);
    },
    songBySerial,
    get stats() {
      return {
        ...stats,
        songs: held,
        artists: artistsHeld,
        allTimeSongs: allTime.songs,
        allTimeArtists: allTime.artistCount,
        dedupIds: seen.size,
        dedupBytes: seen.bytes,
        buckets: rings.reduce((sum, ring) => sum + ring.starts.length, 0),
      };
    },
  };
}
