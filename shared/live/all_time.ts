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

/** All-time counts; artists and songs are registered here, by id. */
export interface AllTimeCounts {
  /** The id of `artist` (registered, without plays, when new). */
  artistId(artist: string): number;
  /**
   * Adds `plays` (> 0) to the song `songId` of artist `artist` (an id);
   * `naming` sets its name when later. Returns the song's slot (valid until
   * the next song is registered).
   */
  add(artist: number, songId: number, plays: number, naming: SongNaming): number;
  /** The slot of a song (registered, without plays, when new; valid until the next one is). */
  slot(artist: number, songId: number): number;
  /** The slot of a song, -1 when it was never registered (valid until the next one is). */
  find(artist: number, songId: number): number;
  /** The number kept with a song's slot for the windows (-1 until set). */
  hotAt(slot: number): number;
  setHotAt(slot: number, value: number): void;
  /** The artist's plays and their top `limit` songs. */
  top(artist: number, limit: number): { total: number; songs: SongPlays[] };
  /** The name held for a song (those in their artist's top), `undefined` otherwise. */
  naming(artist: number, songId: number): SongNaming | undefined;
  /** Artist names by id (0, 1, …: the order they came in); it only grows. */
  readonly names: readonly string[];
  /** The id of `artist`, `undefined` when unknown. */
  indexOf(artist: string): number | undefined;
  /** All-time plays of the artist `id`. */
  playsAt(id: number): number;
  /** Latest event time of the artist `id` (ms), `undefined` before their first play. */
  lastEventAt(id: number): number | undefined;
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

interface ArtistState {
  plays: number;
  lastEventAt: number;
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

/**
 * Counts keyed by (artist id, 32-bit song id), open addressing over typed
 * arrays, each with one more number of the caller's (`hot`).
 */
function createPairCounts() {
  let capacity = 1024;
  let keys = new Int32Array(capacity * 2).fill(EMPTY);
  let values = new Float64Array(capacity);
  let hot = new Int32Array(capacity).fill(EMPTY);
  let size = 0;
  let played = 0;

  function slotOf(artist: number, song: number, inKeys: Int32Array, slots: number): number {
    let slot = ((Math.imul(artist, 0x9e3779b1) ^ Math.imul(song, 0x85ebca6b)) >>> 0) &
      (slots - 1);
    while (
      inKeys[slot * 2] !== EMPTY && (inKeys[slot * 2] !== artist || inKeys[slot * 2 + 1] !== song)
    ) slot = (slot + 1) & (slots - 1);
    return slot;
  }

  function grow(): void {
    const [oldKeys, oldValues, oldHot] = [keys, values, hot];
    capacity *= 2;
    keys = new Int32Array(capacity * 2).fill(EMPTY);
    values = new Float64Array(capacity);
    hot = new Int32Array(capacity).fill(EMPTY);
    for (let i = 0; i < oldValues.length; i++) {
      const artist = oldKeys[i * 2]!;
      if (artist === EMPTY) continue;
      const slot = slotOf(artist, oldKeys[i * 2 + 1]!, keys, capacity);
      keys[slot * 2] = artist;
      keys[slot * 2 + 1] = oldKeys[i * 2 + 1]!;
      values[slot] = oldValues[i]!;
      hot[slot] = oldHot[i]!;
    }
  }

  return {
    /** The slot of (artist, song), registered with 0 when new. */
    slot(artist: number, song: number): number {
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
      return slot;
    },
    find(artist: number, song: number): number {
      const slot = slotOf(artist, song, keys, capacity);
      return keys[slot * 2] === EMPTY ? -1 : slot;
    },
    /** Adds `n` at `slot`, returns the new count. */
    add(slot: number, n: number): number {
      if (values[slot] === 0 && n > 0) played++;
      return (values[slot]! += n);
    },
    hotAt: (slot: number) => hot[slot]!,
    setHotAt(slot: number, value: number): void {
      hot[slot] = value;
    },
    forEach(fn: (artist: number, song: number, count: number) => void): void {
      for (let i = 0; i < values.length; i++) {
        const artist = keys[i * 2]!;
        if (artist !== EMPTY && values[i]! > 0) fn(artist, keys[i * 2 + 1]!, values[i]!);
      }
    },
    get played() {
      return played;
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
 * const tony = counts.artistId("tony-allen");
 * counts.add(tony, 1, 5, naming("zombie", 1));
 * counts.add(tony, 2, 3, naming("secret-agent", 1));
 * counts.add(tony, 3, 1, naming("jealousy", 1)); // outside the top two: no name held
 * assert.equal(counts.naming(tony, 3), undefined);
 * counts.add(tony, 3, 4, naming("jealousy", 2)); // 5 plays: enters, with its name
 * assert.deepEqual(counts.top(tony, 2), {
 *   total: 13,
 *   songs: [{ song_id: 1, song_name: "zombie", plays: 5 }, { song_id: 3, song_name: "jealousy", plays: 5 }],
 * });
 * assert.equal(counts.songs, 3);
 * assert.equal(counts.lastEventAt(tony), 2);
 * ```
 */
export function createAllTimeCounts(options: { keep?: number } = {}): AllTimeCounts {
  const keep = options.keep ?? ALL_TIME_TOP;
  const ids = new Map<string, number>();
  const names: string[] = [];
  const artists: ArtistState[] = [];
  let artistsPlayed = 0;
  const pairs = createPairCounts();
  /** Song ids outside 32 bits: their slots, negative from -2 down (their counts kept here). */
  const wide = new Map<string, number>();
  const wideSlots: { artist: number; songId: number; plays: number; hot: number }[] = [];

  function slotOf(artist: number, songId: number, register: boolean): number {
    if (songId === (songId | 0)) {
      return register ? pairs.slot(artist, songId) : pairs.find(artist, songId);
    }
    const key = `${artist}/${songId}`;
    let index = wide.get(key);
    if (index === undefined) {
      if (!register) return -1;
      index = wideSlots.length;
      wideSlots.push({ artist, songId, plays: 0, hot: EMPTY });
      wide.set(key, index);
    }
    return -2 - index;
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
    artistId(artist) {
      let id = ids.get(artist);
      if (id === undefined) {
        id = names.length;
        ids.set(artist, id);
        names.push(artist);
        artists.push({ plays: 0, lastEventAt: Number.NEGATIVE_INFINITY, top: [] });
      }
      return id;
    },
    add(artist, songId, plays, naming) {
      const slot = slotOf(artist, songId, true);
      if (plays <= 0) return slot;
      const state = artists[artist]!;
      if (state.plays === 0) artistsPlayed++;
      state.plays += plays;
      if (naming.at > state.lastEventAt) state.lastEventAt = naming.at;
      let count: number;
      if (slot >= 0) {
        count = pairs.add(slot, plays);
      } else {
        count = wideSlots[-2 - slot]!.plays += plays;
      }
      updateTop(state, songId, count, naming);
      return slot;
    },
    slot: (artist, songId) => slotOf(artist, songId, true),
    find: (artist, songId) => slotOf(artist, songId, false),
    hotAt: (slot) => (slot >= 0 ? pairs.hotAt(slot) : wideSlots[-2 - slot]!.hot),
    setHotAt(slot, value) {
      if (slot >= 0) pairs.setHotAt(slot, value);
      else wideSlots[-2 - slot]!.hot = value;
    },
    top(artist, limit) {
      const state = artists[artist];
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
    naming(artist, songId) {
      const entry = artists[artist]?.top.find((entry) => entry.song_id === songId);
      return entry === undefined
        ? undefined
        : { song_name: entry.song_name, at: entry.at, id: entry.id };
    },
    names,
    indexOf: (artist) => ids.get(artist),
    playsAt: (id) => artists[id]?.plays ?? 0,
    lastEventAt(id) {
      const at = artists[id]?.lastEventAt;
      return at === undefined || at === Number.NEGATIVE_INFINITY ? undefined : at;
    },
    forEachSong(fn) {
      pairs.forEach((artist, song, count) => fn(names[artist]!, song, count));
      for (const entry of wideSlots) {
        if (entry.plays > 0) fn(names[entry.artist]!, entry.songId, entry.plays);
      }
    },
    get songs() {
      return pairs.played + wideSlots.filter((entry) => entry.plays > 0).length;
    },
    get artistCount() {
      return artistsPlayed;
    },
  };
}
