/**
 * All-time plays of every song and artist, held compactly: one count per
 * (artist, song) in a typed-array hash table, and the names of each artist's
 * most played songs only (their top {@linkcode ALL_TIME_TOP} by all-time
 * plays). Song names are the costly part of a catalog; a song outside its
 * artist's top can only enter it by being played, and a play brings its name,
 * so the top stays exact while counts only grow.
 *
 * The windowed counter (windows.ts) holds a song only while it has plays in a
 * window; all time lives here, from BigQuery's aggregate plus live plays.
 *
 * @module
 */

import type { SongPlays } from "./windows.ts";

/** Songs of each artist whose names are held (the API's largest `limit`). */
export const ALL_TIME_TOP = 100;

/** A play's name and what orders it (the latest play's name wins). */
export interface SongNaming {
  song_name: string;
  /** Event time of the play (ms). */
  at: number;
  /** `event_id` of the play (breaks ties of event time). */
  id: string;
}

/** An artist's plays of all time. */
export interface ArtistTotal {
  artist: string;
  plays: number;
  /** Latest event time (ms), `undefined` before the first play. */
  lastEventAt: number | undefined;
}

/** All-time counts. */
export interface AllTimeCounts {
  /** Adds `plays` to a song of `artist` (plays > 0); `naming` sets its name when later. */
  add(artist: string, songId: number, plays: number, naming: SongNaming): void;
  /** The artist's plays, latest event time and their top `limit` songs. */
  top(artist: string, limit: number): { total: number; songs: SongPlays[] };
  /** The artist's total, `undefined` for an artist without plays. */
  artist(artist: string): ArtistTotal | undefined;
  /** The name held for a song (those in their artist's top), `undefined` otherwise. */
  naming(artist: string, songId: number): SongNaming | undefined;
  /** Every artist with plays, in no particular order. */
  artists(): Iterable<ArtistTotal>;
  /** Artist names by index (0, 1, …: the order they came in); it only grows. */
  readonly names: readonly string[];
  /** Index of `artist` in {@linkcode AllTimeCounts.names}, `undefined` when unknown. */
  indexOf(artist: string): number | undefined;
  /** All-time plays of the artist at `index`. */
  playsAt(index: number): number;
  /** Calls `fn` with every song with plays. */
  forEachSong(fn: (artist: string, songId: number, plays: number) => void): void;
  /** Songs with plays. */
  readonly songs: number;
  /** Artists with plays. */
  readonly artistCount: number;
}

interface TopEntry extends SongNaming {
  song_id: number;
  plays: number;
}

interface ArtistState extends ArtistTotal {
  index: number;
  /** Most played first, ties by `song_id`; at most {@linkcode ALL_TIME_TOP}. */
  top: TopEntry[];
}

const EMPTY = -1;

function isLaterNaming(a: SongNaming, b: SongNaming): boolean {
  return a.at > b.at || (a.at === b.at && a.id > b.id);
}

/** Whether (plays, id) ranks before `entry` (most played first, ties by `song_id`). */
function ranksBefore(plays: number, songId: number, entry: TopEntry): boolean {
  return plays > entry.plays || (plays === entry.plays && songId < entry.song_id);
}

/** Counts keyed by (artist index, 32-bit song id), open addressing over typed arrays. */
function createPairCounts() {
  let capacity = 1024;
  let keys = new Int32Array(capacity * 2).fill(EMPTY);
  let values = new Float64Array(capacity);
  let size = 0;

  function slotOf(artist: number, song: number, inKeys: Int32Array, slots: number): number {
    let slot = ((Math.imul(artist, 0x9e3779b1) ^ Math.imul(song, 0x85ebca6b)) >>> 0) &
      (slots - 1);
    while (
      inKeys[slot * 2] !== EMPTY && (inKeys[slot * 2] !== artist || inKeys[slot * 2 + 1] !== song)
    ) slot = (slot + 1) & (slots - 1);
    return slot;
  }

  function grow(): void {
    const oldKeys = keys;
    const oldValues = values;
    capacity *= 2;
    keys = new Int32Array(capacity * 2).fill(EMPTY);
    values = new Float64Array(capacity);
    for (let i = 0; i < oldValues.length; i++) {
      const artist = oldKeys[i * 2]!;
      if (artist === EMPTY) continue;
      const slot = slotOf(artist, oldKeys[i * 2 + 1]!, keys, capacity);
      keys[slot * 2] = artist;
      keys[slot * 2 + 1] = oldKeys[i * 2 + 1]!;
      values[slot] = oldValues[i]!;
    }
  }

  return {
    /** Adds `n`, returns the new count. */
    add(artist: number, song: number, n: number): number {
      let slot = slotOf(artist, song, keys, capacity);
      if (keys[slot * 2] === EMPTY) {
        if ((size + 1) * 4 > capacity * 3) {
          grow();
          slot = slotOf(artist, song, keys, capacity);
        }
        keys[slot * 2] = artist;
        keys[slot * 2 + 1] = song;
        values[slot] = 0;
        size++;
      }
      return (values[slot]! += n);
    },
    forEach(fn: (artist: number, song: number, count: number) => void): void {
      for (let i = 0; i < values.length; i++) {
        const artist = keys[i * 2]!;
        if (artist !== EMPTY) fn(artist, keys[i * 2 + 1]!, values[i]!);
      }
    },
    get size() {
      return size;
    },
  };
}

/**
 * Creates empty all-time counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAllTimeCounts } from "./all_time.ts";
 * const counts = createAllTimeCounts({ keep: 2 });
 * const naming = (song_name: string, at: number) => ({ song_name, at, id: `id-${at}` });
 * counts.add("tony-allen", 1, 5, naming("zombie", 1));
 * counts.add("tony-allen", 2, 3, naming("secret-agent", 1));
 * counts.add("tony-allen", 3, 1, naming("jealousy", 1)); // outside the top two: no name held
 * assert.equal(counts.naming("tony-allen", 3), undefined);
 * counts.add("tony-allen", 3, 4, naming("jealousy", 2)); // 5 plays: enters, with its name
 * assert.deepEqual(counts.top("tony-allen", 2), {
 *   total: 13,
 *   songs: [{ song_id: 1, song_name: "zombie", plays: 5 }, { song_id: 3, song_name: "jealousy", plays: 5 }],
 * });
 * assert.equal(counts.songs, 3);
 * assert.equal(counts.artist("tony-allen")?.lastEventAt, 2);
 * ```
 */
export function createAllTimeCounts(options: { keep?: number } = {}): AllTimeCounts {
  const keep = options.keep ?? ALL_TIME_TOP;
  const byName = new Map<string, ArtistState>();
  const names: string[] = [];
  const byIndex: ArtistState[] = [];
  const pairs = createPairCounts();
  /** Song ids outside 32 bits, keyed `artistIndex/songId`. */
  const wide = new Map<string, number>();

  function countOf(state: ArtistState, songId: number, plays: number): number {
    if (songId === (songId | 0)) return pairs.add(state.index, songId, plays);
    const key = `${state.index}/${songId}`;
    const count = (wide.get(key) ?? 0) + plays;
    wide.set(key, count);
    return count;
  }

  function updateTop(state: ArtistState, songId: number, count: number, naming: SongNaming): void {
    const top = state.top;
    const last = top[top.length - 1];
    // A song in the top ranked before the last one before this play: it still does.
    if (top.length >= keep && last !== undefined && !ranksBefore(count, songId, last)) return;
    let at = top.findIndex((entry) => entry.song_id === songId);
    if (at < 0) {
      top.push({ song_id: songId, plays: count, ...naming });
      at = top.length - 1;
    } else {
      const entry = top[at]!;
      entry.plays = count;
      if (isLaterNaming(naming, entry)) {
        entry.song_name = naming.song_name;
        entry.at = naming.at;
        entry.id = naming.id;
      }
    }
    while (at > 0 && ranksBefore(count, songId, top[at - 1]!)) {
      [top[at - 1], top[at]] = [top[at]!, top[at - 1]!];
      at--;
    }
    if (top.length > keep) top.pop();
  }

  return {
    add(artist, songId, plays, naming) {
      if (plays <= 0) return;
      let state = byName.get(artist);
      if (state === undefined) {
        state = { artist, plays: 0, lastEventAt: undefined, index: names.length, top: [] };
        names.push(artist);
        byIndex.push(state);
        byName.set(artist, state);
      }
      state.plays += plays;
      if (state.lastEventAt === undefined || naming.at > state.lastEventAt) {
        state.lastEventAt = naming.at;
      }
      updateTop(state, songId, countOf(state, songId, plays), naming);
    },
    top(artist, limit) {
      const state = byName.get(artist);
      if (state === undefined) return { total: 0, songs: [] };
      return {
        total: state.plays,
        songs: state.top.slice(0, limit).map((entry) => ({
          song_id: entry.song_id,
          song_name: entry.song_name,
          plays: entry.plays,
        })),
      };
    },
    artist: (artist) => byName.get(artist),
    naming(artist, songId) {
      const entry = byName.get(artist)?.top.find((entry) => entry.song_id === songId);
      return entry === undefined
        ? undefined
        : { song_name: entry.song_name, at: entry.at, id: entry.id };
    },
    artists: () => byName.values(),
    names,
    indexOf: (artist) => byName.get(artist)?.index,
    playsAt: (index) => byIndex[index]?.plays ?? 0,
    forEachSong(fn) {
      pairs.forEach((artist, song, count) => fn(names[artist]!, song, count));
      for (const [key, count] of wide) {
        const slash = key.indexOf("/");
        fn(names[Number(key.slice(0, slash))]!, Number(key.slice(slash + 1)), count);
      }
    },
    get songs() {
      return pairs.size + wide.size;
    },
    get artistCount() {
      return byName.size;
    },
  };
}
