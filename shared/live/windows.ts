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
 * committed offsets (see history.ts and live_feed.ts).
 *
 * @module
 */

import type { SongCompleted } from "../event.ts";
import { createRecentIds } from "./recent_ids.ts";

/** Names of the windows, shortest first. */
export const WINDOW_NAMES = ["5m", "1h", "24h", "all"] as const;

/** A window name. */
export type WindowName = typeof WINDOW_NAMES[number];

/** Length and bucket width of a window (`lengthMs` undefined for `all`). */
export interface WindowSpec {
  lengthMs: number | undefined;
  bucketMs: number;
  /** Human label, e.g. `last 5 minutes`. */
  label: string;
}

/** The windows the dashboard offers. */
export const WINDOWS: Readonly<Record<WindowName, WindowSpec>> = {
  "5m": { lengthMs: 5 * 60_000, bucketMs: 1_000, label: "last 5 minutes" },
  "1h": { lengthMs: 60 * 60_000, bucketMs: 10_000, label: "last hour" },
  "24h": { lengthMs: 24 * 60 * 60_000, bucketMs: 60_000, label: "last 24 hours" },
  all: { lengthMs: undefined, bucketMs: 0, label: "all time" },
};

/** A window with a length (not `all`). */
export type FiniteWindowName = Exclude<WindowName, "all">;

/** The finite windows, shortest first. */
export const FINITE_WINDOWS: readonly FiniteWindowName[] = ["5m", "1h", "24h"];

/** Longest finite window, the default allowed lateness. */
export const LONGEST_WINDOW_MS = 24 * 60 * 60_000;

/** Default dedup horizon: ids read in the last 10 minutes. */
export const DEFAULT_DEDUP_HORIZON_MS = 10 * 60_000;

/** Whether `value` is a window name. */
export function isWindowName(value: string): value is WindowName {
  return (WINDOW_NAMES as readonly string[]).includes(value);
}

/**
 * Start of `window` at wall time `now` (ms since the epoch), aligned to the
 * window's buckets; `undefined` for `all`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { windowStart } from "./windows.ts";
 * const now = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
 * assert.equal(windowStart("5m", now), Date.UTC(2026, 0, 1, 11, 55, 1));
 * assert.equal(windowStart("all", Date.now()), undefined);
 * ```
 */
export function windowStart(window: WindowName, now: number): number | undefined {
  const spec = WINDOWS[window];
  if (spec.lengthMs === undefined) return undefined;
  return Math.ceil((now - spec.lengthMs) / spec.bucketMs) * spec.bucketMs;
}

/** A song's plays in a window. */
export interface SongPlays {
  song_id: number;
  song_name: string;
  plays: number;
}

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

/** An artist and their plays of all time. */
export interface ArtistPlays {
  artist: string;
  plays: number;
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
  songs: number;
  artists: number;
  /** Ids held for deduplication (those read within the horizon). */
  dedupIds: number;
  /** Bytes of the dedup tables. */
  dedupBytes: number;
  /** Buckets held across the finite windows. */
  buckets: number;
}

/** BigQuery's all-time plays of one song, with what the latest of them says. */
export interface SongHistory {
  artist: string;
  song_id: number;
  /** `COUNT(DISTINCT event_id)`. */
  plays: number;
  /** Name in the latest play (by event time, then `event_id`). */
  song_name: string;
  /** Event time of that latest play (ms). */
  latestAt: number;
  /** `event_id` of that latest play (breaks ties of event time). */
  latestId: string;
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
   * Adds BigQuery's plays of a song in the bucket of `window` starting at
   * `bucketStart` (ms); ignored when that bucket has already left the
   * window. Seed the song's all time first (it brings the name).
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
  /** Artists seen, most played first (ties by name). */
  artists(): ArtistPlays[];
  /**
   * Every song's plays in `window` at `now`, keyed `artist/song_id`, for
   * reconciliation; songs without plays are left out.
   */
  counts(window: WindowName, now: number): { from: number | undefined; plays: Map<string, number> };
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
}

interface Ring {
  name: WindowName;
  spec: WindowSpec;
  from: number;
  /** Bucket start → (song index → plays). */
  buckets: Map<number, Map<number, number>>;
  /** Bucket starts, ascending. */
  starts: number[];
  /** Song index → plays in the window. */
  totals: number[];
}

interface ArtistState {
  songs: number[];
  plays: number;
  lastEventAt: number;
}

const RATE_WINDOW_MS = 60_000;

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
  const songIndex = new Map<string, number>();
  const songArtist: string[] = [];
  const songId: number[] = [];
  const songName: string[] = [];
  const songNameAt: number[] = [];
  const songNameId: string[] = [];
  const allTotals: number[] = [];
  const artistState = new Map<string, ArtistState>();
  const rings: Ring[] = FINITE_WINDOWS.map((name) => ({
    name,
    spec: WINDOWS[name],
    from: Number.NEGATIVE_INFINITY,
    buckets: new Map(),
    starts: [],
    totals: [],
  }));
  const ringOf = new Map(rings.map((ring) => [ring.name, ring]));
  const stats = { counted: 0, duplicates: 0, late: 0, seeded: 0 };

  function songOf(artist: string, id: number): number {
    const key = songKey(artist, id);
    let index = songIndex.get(key);
    if (index !== undefined) return index;
    index = songArtist.length;
    songIndex.set(key, index);
    songArtist.push(artist);
    songId.push(id);
    songName.push("");
    songNameAt.push(Number.NEGATIVE_INFINITY);
    songNameId.push("");
    allTotals.push(0);
    for (const ring of rings) ring.totals.push(0);
    let state = artistState.get(artist);
    if (state === undefined) {
      state = { songs: [], plays: 0, lastEventAt: Number.NEGATIVE_INFINITY };
      artistState.set(artist, state);
    }
    state.songs.push(index);
    return index;
  }

  /** The name of the latest play wins (event time, then id): the same answer in any order. */
  function nameFrom(index: number, name: string, at: number, id: string): void {
    const known = songNameAt[index]!;
    if (at > known || (at === known && id > songNameId[index]!)) {
      songName[index] = name;
      songNameAt[index] = at;
      songNameId[index] = id;
    }
  }

  function addToBucket(ring: Ring, start: number, index: number, plays: number): void {
    if (start < ring.from) return; // already out of this window for good
    let bucket = ring.buckets.get(start);
    if (bucket === undefined) {
      bucket = new Map();
      ring.buckets.set(start, bucket);
      insertSorted(ring.starts, start);
    }
    bucket.set(index, (bucket.get(index) ?? 0) + plays);
    ring.totals[index]! += plays;
  }

  function advance(now: number): void {
    seen.advance(now);
    for (const ring of rings) {
      const from = windowStart(ring.name, now)!;
      if (from <= ring.from) continue;
      ring.from = from;
      while (ring.starts.length > 0 && ring.starts[0]! < from) {
        const start = ring.starts.shift()!;
        for (const [index, plays] of ring.buckets.get(start)!) ring.totals[index]! -= plays;
        ring.buckets.delete(start);
      }
    }
  }

  function playsIn(window: WindowName, index: number): number {
    return window === "all" ? allTotals[index]! : ringOf.get(window)!.totals[index]!;
  }

  function recentPlays(artist: string, now: number): number {
    const ring = ringOf.get("5m")!;
    const since = now - RATE_WINDOW_MS;
    let plays = 0;
    for (let i = ring.starts.length - 1; i >= 0; i--) {
      const start = ring.starts[i]!;
      if (start < since) break;
      if (start > now) continue;
      for (const [index, count] of ring.buckets.get(start)!) {
        if (songArtist[index] === artist) plays += count;
      }
    }
    return plays;
  }

  advance(options.now ?? Date.now());

  return {
    add(event, readAt) {
      if (!seen.add(event.event_id)) {
        stats.duplicates++;
        return "duplicate";
      }
      const time = Date.parse(event.timestamp);
      const index = songOf(event.artist, event.song_id);
      nameFrom(index, event.song_name, time, event.event_id);
      allTotals[index]!++;
      const artist = artistState.get(event.artist)!;
      artist.plays++;
      if (time > artist.lastEventAt) artist.lastEventAt = time;
      if (readAt !== undefined && readAt - time > lateness) {
        stats.late++;
        return "late";
      }
      stats.counted++;
      for (const ring of rings) {
        addToBucket(ring, Math.floor(time / ring.spec.bucketMs) * ring.spec.bucketMs, index, 1);
      }
      return "counted";
    },
    seedSong(song) {
      if (song.plays <= 0) return;
      const index = songOf(song.artist, song.song_id);
      nameFrom(index, song.song_name, song.latestAt, song.latestId);
      allTotals[index]! += song.plays;
      const artist = artistState.get(song.artist)!;
      artist.plays += song.plays;
      if (song.latestAt > artist.lastEventAt) artist.lastEventAt = song.latestAt;
      stats.seeded += song.plays;
    },
    seedBucket(window, song, bucketStart, plays) {
      if (plays <= 0) return;
      addToBucket(ringOf.get(window)!, bucketStart, songOf(song.artist, song.song_id), plays);
    },
    advance,
    top(artist, window, limit, now) {
      advance(now);
      const state = artistState.get(artist);
      const songs: SongPlays[] = [];
      let total = 0;
      for (const index of state?.songs ?? []) {
        const plays = playsIn(window, index);
        if (plays <= 0) continue;
        total += plays;
        songs.push({ song_id: songId[index]!, song_name: songName[index]!, plays });
      }
      songs.sort(compareSongs);
      return {
        artist,
        window,
        from: windowStart(window, now),
        total,
        songs: songs.slice(0, limit),
        playsPerSecond: state === undefined
          ? 0
          : recentPlays(artist, now) / (RATE_WINDOW_MS / 1000),
        lastEventAt: state === undefined || state.lastEventAt === Number.NEGATIVE_INFINITY
          ? undefined
          : state.lastEventAt,
      };
    },
    artists() {
      return [...artistState].map(([artist, state]) => ({ artist, plays: state.plays }))
        .sort((a, b) => b.plays - a.plays || (a.artist < b.artist ? -1 : 1));
    },
    counts(window, now) {
      advance(now);
      const plays = new Map<string, number>();
      for (let index = 0; index < songArtist.length; index++) {
        const count = playsIn(window, index);
        if (count > 0) plays.set(songKey(songArtist[index]!, songId[index]!), count);
      }
      return { from: windowStart(window, now), plays };
    },
    get stats() {
      return {
        ...stats,
        songs: songArtist.length,
        artists: artistState.size,
        dedupIds: seen.size,
        dedupBytes: seen.bytes,
        buckets: rings.reduce((sum, ring) => sum + ring.starts.length, 0),
      };
    },
  };
}
