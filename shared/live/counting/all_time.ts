/**
 * Every artist and song the dashboard has seen, and their plays of all time,
 * held compactly: an artist gets an id, a song a serial (a typed-array hash
 * of (artist id, song id)), and each song's count, name (song_names.ts) and
 * the number the windows keep for it sit in typed arrays by serial, outside
 * V8's heap. Each artist's songs are a list through the serials (an
 * `Int32Array` link per song) and their most played song is kept on every
 * play (counts only grow, so only the song just played can overtake it); a
 * top of N is sorted from the artist's songs when asked. No array per
 * artist on the heap: at 100,000 artists those were 19 MB of a 64 MB heap.
 *
 * The windowed counter (windows.ts) holds a song only while it has plays in a
 * window; all time lives here, from BigQuery's aggregate plus live plays.
 *
 * @module
 */

import { grown } from "./grown.ts";
import { createSongNames } from "./song_names.ts";
import type { SongPlays } from "./song_plays.ts";
import type { SongHistory } from "./song_history.ts";

/** A play's name and what orders it (the latest play's name wins; see song_names.ts). */
export interface SongNaming {
  song_name: string;
  /** Event time of the play (ms). */
  at: number;
}

/** All-time counts; artists and songs are registered here, by id and serial. */
export interface AllTimeCounts {
  /** The id of `artist` (registered, without plays, when new). */
  artistId(artist: string): number;
  /** The serial of song `songId` of artist `artist` (an id), registered when new. */
  song(artist: number, songId: number): number;
  /** Makes room for `songs` songs in all, at once (a history about to be added). */
  reserve(songs: number): void;
  /** Adds `plays` (≥ 0) to song `serial`; `naming` names it when it is the latest play. */
  add(serial: number, plays: number, naming: SongNaming): void;
  /** Like {@linkcode AllTimeCounts.add}, for plays BigQuery counted: also kept apart (see `forEachSeeded`). */
  seed(serial: number, plays: number, naming: SongNaming): void;
  /**
   * Calls `fn` with every song that has plays from BigQuery: those plays
   * only, with the song's latest play known (from BigQuery or read since).
   * What a new counter is seeded with when it is anchored further on.
   */
  forEachSeeded(fn: (song: SongHistory) => void): void;
  /** The serial of song `songId` of artist `artist` (an id), -1 when never registered (registers nothing). */
  find(artist: number, songId: number): number;
  /** Songs registered: serials run from 0 to this, less one. */
  readonly serials: number;
  /** All-time plays of song `serial`. */
  playsOf(serial: number): number;
  /** The name of song `serial`. */
  name(serial: number): string;
  /** The `song_id` of song `serial`. */
  songIdOf(serial: number): number;
  /** The artist id of song `serial`. */
  artistOf(serial: number): number;
  /** The number kept with song `serial` for the windows (-1 until set). */
  hotAt(serial: number): number;
  setHotAt(serial: number, value: number): void;
  /** The artist's plays and their top `limit` songs. */
  top(artist: number, limit: number): { total: number; songs: SongPlays[] };
  /** Artist names by id (0, 1, …: the order they came in); it only grows. */
  readonly names: readonly string[];
  /** The id of `artist`, `undefined` when unknown. */
  indexOf(artist: string): number | undefined;
  /** All-time plays of the artist `id`. */
  playsAt(id: number): number;
  /** Latest event time of the artist `id` (ms), `undefined` before their first play. */
  lastEventAt(id: number): number | undefined;
  /** Songs with plays. */
  readonly songs: number;
  /** Artists with plays. */
  readonly artistCount: number;
  /** Bytes of the typed arrays (outside V8's heap). */
  readonly bytes: number;
}

/** An empty slot, a song without window index, an artist without songs. */
const EMPTY = -1;

/**
 * Creates empty all-time counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAllTimeCounts } from "./all_time.ts";
 * const counts = createAllTimeCounts();
 * const naming = (song_name: string, at: number) => ({ song_name, at });
 * const tony = counts.artistId("tony-allen");
 * counts.add(counts.song(tony, 1), 5, naming("zombie", 1));
 * counts.add(counts.song(tony, 2), 3, naming("secret-agent", 1));
 * const jealousy = counts.song(tony, 3);
 * counts.add(jealousy, 1, naming("jealousy", 1)); // outside the top two
 * counts.add(jealousy, 4, naming("jealousy", 2)); // 5 plays: ties the first, after it by song_id
 * assert.deepEqual(counts.top(tony, 2), {
 *   total: 13,
 *   songs: [{ song_id: 1, song_name: "zombie", plays: 5 }, { song_id: 3, song_name: "jealousy", plays: 5 }],
 * });
 * assert.deepEqual(counts.top(tony, 1).songs, [{ song_id: 1, song_name: "zombie", plays: 5 }]);
 * assert.deepEqual(counts.top(counts.artistId("nobody"), 10), { total: 0, songs: [] });
 * assert.equal(counts.songs, 3);
 * assert.equal(counts.lastEventAt(tony), 2);
 * // A song is found again by (artist, song_id) however many there are.
 * const fela = counts.artistId("fela-kuti");
 * const serials = Array.from({ length: 5_000 }, (_, i) => counts.song(i % 2 ? fela : tony, 100 + i));
 * assert.deepEqual(serials.map((_, i) => counts.song(i % 2 ? fela : tony, 100 + i)), serials);
 * assert.equal(new Set(serials).size, 5_000);
 * assert.equal(counts.find(fela, 101), serials[1]);
 * assert.equal(counts.find(fela, 100), -1); // never registered, and still not
 * const registered = counts.song(fela, 100);
 * assert.equal(counts.find(fela, 100), registered);
 * assert.equal(counts.playsOf(counts.find(tony, 1)), 5);
 * // BigQuery's plays are kept apart, with the latest name known.
 * const lady = counts.song(tony, 4);
 * counts.seed(lady, 2, naming("lady", 3));
 * counts.add(lady, 1, naming("lady (live)", 4));
 * const seeded: unknown[] = [];
 * counts.forEachSeeded((song) => seeded.push(song));
 * assert.deepEqual(seeded, [
 *   { artist: "tony-allen", song_id: 4, plays: 2, song_name: "lady (live)", latestAt: 4 },
 * ]);
 * ```
 */
export function createAllTimeCounts(): AllTimeCounts {
  const ids = new Map<string, number>();
  const names: string[] = [];
  let artistPlays = new Float64Array(1024);
  let artistLast = new Float64Array(1024).fill(Number.NEGATIVE_INFINITY);
  /** Artist id → their most played song's serial (-1: none yet); ties by `song_id`. */
  let artistBest = new Int32Array(1024).fill(EMPTY);
  /** Artist id → the first serial of their songs (-1: none), then `nextOfArtist`. */
  let artistFirst = new Int32Array(1024).fill(EMPTY);
  let artistsPlayed = 0;
  // Songs by serial.
  const songNames = createSongNames();
  let songIds = new Float64Array(1024);
  let songArtists = new Int32Array(1024);
  let plays = new Float64Array(1024);
  /** Serial → plays from BigQuery's history (part of `plays`). */
  let seeded = new Float64Array(1024);
  /** Serial → the artist's next song (-1: the last). */
  let nextOfArtist = new Int32Array(1024).fill(EMPTY);
  let hot = new Int32Array(1024).fill(EMPTY);
  let serials = 0;
  let songsPlayed = 0;
  // (artist id, 32-bit song id) → serial: an open-addressing table of
  // serials alone (4 bytes a slot), the key read back from `songArtists` and
  // `songIds`; linear probing, the slots a power of two. Wider song ids in a Map.
  let capacity = 1024;
  let table = new Int32Array(capacity).fill(EMPTY);
  const wide = new Map<string, number>();

  /** Where song `(artist, songId)` is in `within`, or the empty slot where it goes. */
  function slotOf(artist: number, songId: number, within: Int32Array, slots: number): number {
    let slot = ((Math.imul(artist, 0x9e3779b1) ^ Math.imul(songId, 0x85ebca6b)) >>> 0) &
      (slots - 1);
    for (;;) {
      const serial = within[slot]!;
      if (serial === EMPTY || (songArtists[serial] === artist && songIds[serial] === songId)) {
        return slot;
      }
      slot = (slot + 1) & (slots - 1);
    }
  }

  /** Rehashes the song table into `to` slots. */
  function grow(to = capacity * 2): void {
    const old = table;
    capacity = to;
    table = new Int32Array(capacity).fill(EMPTY);
    for (const serial of old) {
      if (serial !== EMPTY) {
        table[slotOf(songArtists[serial]!, songIds[serial]!, table, capacity)] = serial;
      }
    }
  }

  /** Makes the per-song arrays hold at least `length` songs. */
  function growSongs(length: number): void {
    songIds = grown(songIds, length, (n) => new Float64Array(n));
    songArtists = grown(songArtists, length, (n) => new Int32Array(n));
    plays = grown(plays, length, (n) => new Float64Array(n));
    seeded = grown(seeded, length, (n) => new Float64Array(n));
    hot = grown(hot, length, (n) => new Int32Array(n), EMPTY);
    nextOfArtist = grown(nextOfArtist, length, (n) => new Int32Array(n), EMPTY);
  }

  function newSerial(artist: number, songId: number): number {
    const serial = serials++;
    growSongs(serials);
    songIds[serial] = songId;
    songArtists[serial] = artist;
    nextOfArtist[serial] = artistFirst[artist]!;
    artistFirst[artist] = serial;
    return serial;
  }

  /** Whether song `a` ranks before song `b` of all time (most played, then smaller id). */
  function ranksBefore(a: number, b: number): boolean {
    return plays[a]! > plays[b]! || (plays[a] === plays[b] && songIds[a]! < songIds[b]!);
  }

  /** Keeps the artist's most played song after a play of `serial`. */
  function updateBest(artist: number, serial: number): void {
    const best = artistBest[artist]!;
    if (best === EMPTY || ranksBefore(serial, best)) artistBest[artist] = serial;
  }

  function add(serial: number, n: number, naming: SongNaming): void {
    songNames.offer(serial, naming.song_name, naming.at);
    if (n <= 0) return;
    const artist = songArtists[serial]!;
    if (artistPlays[artist] === 0) artistsPlayed++;
    if (plays[serial] === 0) songsPlayed++;
    artistPlays[artist]! += n;
    if (naming.at > artistLast[artist]!) artistLast[artist] = naming.at;
    plays[serial]! += n;
    updateBest(artist, serial);
  }

  return {
    artistId(artist) {
      let id = ids.get(artist);
      if (id === undefined) {
        id = names.length;
        ids.set(artist, id);
        names.push(artist);
        artistPlays = grown(artistPlays, names.length, (n) => new Float64Array(n));
        artistBest = grown(artistBest, names.length, (n) => new Int32Array(n), EMPTY);
        artistFirst = grown(artistFirst, names.length, (n) => new Int32Array(n), EMPTY);
        artistLast = grown(
          artistLast,
          names.length,
          (n) => new Float64Array(n),
          Number.NEGATIVE_INFINITY,
        );
      }
      return id;
    },
    reserve(songs) {
      const length = Math.max(serials, songs);
      growSongs(length);
      songNames.reserve(length);
      let to = capacity;
      while (length * 4 > to * 3) to *= 2;
      if (to > capacity) grow(to);
    },
    song(artist, songId) {
      if (songId !== (songId | 0)) {
        const key = `${artist}/${songId}`;
        let serial = wide.get(key);
        if (serial === undefined) wide.set(key, serial = newSerial(artist, songId));
        return serial;
      }
      let slot = slotOf(artist, songId, table, capacity);
      if (table[slot] === EMPTY) {
        if ((serials + 1) * 4 > capacity * 3) {
          grow();
          slot = slotOf(artist, songId, table, capacity);
        }
        table[slot] = newSerial(artist, songId);
      }
      return table[slot]!;
    },
    find(artist, songId) {
      if (songId !== (songId | 0)) return wide.get(`${artist}/${songId}`) ?? EMPTY;
      return table[slotOf(artist, songId, table, capacity)]!;
    },
    get serials() {
      return serials;
    },
    playsOf: (serial) => plays[serial] ?? 0,
    add,
    seed(serial, n, naming) {
      add(serial, n, naming);
      if (n > 0) seeded[serial]! += n;
    },
    forEachSeeded(fn) {
      for (let serial = 0; serial < serials; serial++) {
        if (seeded[serial]! <= 0) continue;
        fn({
          artist: names[songArtists[serial]!]!,
          song_id: songIds[serial]!,
          plays: seeded[serial]!,
          song_name: songNames.name(serial),
          latestAt: songNames.at(serial),
        });
      }
    },
    name: (serial) => songNames.name(serial),
    songIdOf: (serial) => songIds[serial]!,
    artistOf: (serial) => songArtists[serial]!,
    hotAt: (serial) => hot[serial]!,
    setHotAt(serial, value) {
      hot[serial] = value;
    },
    top(artist, limit) {
      if (artist >= names.length || artistBest[artist] === EMPTY) return { total: 0, songs: [] };
      let top: number[];
      if (limit === 1) {
        top = [artistBest[artist]!];
      } else {
        top = [];
        for (let serial = artistFirst[artist]!; serial !== EMPTY; serial = nextOfArtist[serial]!) {
          if (plays[serial]! > 0) top.push(serial);
        }
        top.sort((a, b) => (ranksBefore(a, b) ? -1 : 1));
      }
      return {
        total: artistPlays[artist]!,
        songs: top.slice(0, limit).map((serial) => ({
          song_id: songIds[serial]!,
          song_name: songNames.name(serial),
          plays: plays[serial]!,
        })),
      };
    },
    names,
    indexOf: (artist) => ids.get(artist),
    playsAt: (id) => artistPlays[id] ?? 0,
    lastEventAt(id) {
      const at = artistLast[id];
      return at === undefined || at === Number.NEGATIVE_INFINITY ? undefined : at;
    },
    get songs() {
      return songsPlayed;
    },
    get artistCount() {
      return artistsPlayed;
    },
    get bytes() {
      return songNames.bytes + songIds.byteLength + songArtists.byteLength + plays.byteLength +
        seeded.byteLength + hot.byteLength + nextOfArtist.byteLength + artistBest.byteLength +
        artistFirst.byteLength + table.byteLength + artistPlays.byteLength +
        artistLast.byteLength;
    },
  };
}
