/**
 * The overview of the whole service: every artist's plays in a window and
 * their current number one, most played first — the wall-screen view — and
 * the list of artists, searchable, both a page at a time.
 *
 * The counter keeps each artist's plays and number one up to date on every
 * play ({@linkcode PlayCounter.overview}); ordering them is the only work
 * left, and {@linkcode createOverviewCache} does it at most once per tick
 * per window, however many viewers ask.
 *
 * @module
 */

import {
  type ArtistPlays,
  type ArtistWindowTotal,
  type PlayCounter,
  type WindowName,
  windowStart,
} from "../counting/mod.ts";

/** One artist in the overview. */
export type ArtistOverview = ArtistWindowTotal;

/** A page: where it starts and how many it holds at most. */
export interface Page {
  offset: number;
  limit: number;
}

/** The document of `/api/overview`. */
export interface OverviewDocument {
  window: WindowName;
  /** Window start (ISO), `null` for `all`. */
  from: string | null;
  updated_at: string;
  /** Artists with plays in the window, in all. */
  count: number;
  offset: number;
  limit: number;
  /** This page of the artists with plays in the window, most played first (ties by name). */
  artists: ArtistOverview[];
}

/** The document of `/api/artists`. */
export interface ArtistsDocument {
  /** The search: artists whose slug contains it (`""`: all). */
  q: string;
  /** Artists matching, in all. */
  count: number;
  offset: number;
  limit: number;
  /** This page of them, most played of all time first (ties by name). */
  artists: ArtistPlays[];
}

function byTotal(a: ArtistOverview, b: ArtistOverview): number {
  return b.total - a.total || (a.artist < b.artist ? -1 : 1);
}

/**
 * Builds the overview of `window` at `now`, a page of it (default: the first
 * 100 artists).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overviewDocument } from "./overview.ts";
 * import { createPlayCounter } from "../counting/mod.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const counter = createPlayCounter({ now });
 * const play = (artist: string, song_id: number) => ({
 *   event_id: crypto.randomUUID(), user_id: 1, artist, song_id, song_name: `song-${song_id}`,
 *   event_type: "song_completed" as const, timestamp: new Date(now - 1_000).toISOString(),
 * });
 * counter.add(play("tony-allen", 1));
 * counter.add(play("fela-kuti", 2));
 * counter.add(play("fela-kuti", 2));
 * const overview = overviewDocument(counter, "5m", now);
 * assert.deepEqual(overview.artists.map((a) => [a.artist, a.total, a.top?.song_id]), [
 *   ["fela-kuti", 2, 2],
 *   ["tony-allen", 1, 1],
 * ]);
 * assert.deepEqual(overviewDocument(counter, "5m", now, { offset: 1, limit: 5 }).artists.length, 1);
 * ```
 */
export function overviewDocument(
  counter: PlayCounter,
  window: WindowName,
  now: number,
  page: Page = { offset: 0, limit: 100 },
): OverviewDocument {
  return overviewPage(counter.overview(window, now).sort(byTotal), window, now, page);
}

function overviewPage(
  sorted: readonly ArtistOverview[],
  window: WindowName,
  now: number,
  page: Page,
): OverviewDocument {
  const from = windowStart(window, now);
  return {
    window,
    from: from === undefined ? null : new Date(from).toISOString(),
    updated_at: new Date(now).toISOString(),
    count: sorted.length,
    offset: page.offset,
    limit: page.limit,
    artists: sorted.slice(page.offset, page.offset + page.limit),
  };
}

/** Artist id → place in `order`, -1 for the ids `order` does not hold. */
function placesIn(order: Int32Array): Int32Array {
  let size = 0;
  for (const id of order) size = Math.max(size, id + 1);
  const places = new Int32Array(size).fill(-1);
  order.forEach((id, place) => (places[id] = place));
  return places;
}

/** Overview and artist pages from lists ordered at most once per tick. */
export interface OverviewCache {
  /** A page of the overview of `window` (its order at most `tickMs` old). */
  overview(counter: PlayCounter, window: WindowName, now: number, page: Page): OverviewDocument;
  /** A page of the artists whose slug contains `q`, most played of all time first. */
  artists(counter: PlayCounter, q: string, now: number, page: Page): ArtistsDocument;
}

/**
 * Creates a cache whose orders of artists are rebuilt once the clock entered
 * another tick of `tickMs` or when the counter was replaced (a re-anchoring); a page reads
 * each of its artists' current numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createOverviewCache } from "./overview.ts";
 * import { createPlayCounter } from "../counting/mod.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const counter = createPlayCounter({ now });
 * for (const artist of ["fela-kuti", "tony-allen", "ebo-taylor", "tony-allen"]) {
 *   counter.add({
 *     event_id: crypto.randomUUID(), user_id: 1, artist, song_id: 1, song_name: "a",
 *     event_type: "song_completed", timestamp: new Date(now).toISOString(),
 *   });
 * }
 * const cache = createOverviewCache({ tickMs: 1_000, now: () => now });
 * const found = cache.artists(counter, "o", now, { offset: 0, limit: 1 });
 * assert.equal(found.count, 2);
 * assert.deepEqual(found.artists, [{ artist: "tony-allen", plays: 2 }]);
 * assert.equal(cache.overview(counter, "5m", now, { offset: 0, limit: 10 }).count, 3);
 * ```
 */
export function createOverviewCache(
  options: { tickMs: number; now?: () => number },
): OverviewCache {
  const clock = options.now ?? Date.now;
  interface Ordered {
    /** The tick it was ordered in (`clock()` over `tickMs`, rounded down). */
    tick: number;
    now: number;
    counter: PlayCounter;
    order: Int32Array;
    /** Search → ids of the artists whose slug contains it, in order. */
    searches: Map<string, Int32Array>;
    /** Artist id → place in `order` (-1: absent), made for the first search. */
    places?: Int32Array;
  }
  const orders = new Map<WindowName, Ordered>();

  function ordered(counter: PlayCounter, window: WindowName, now: number): Ordered {
    const entry = orders.get(window);
    const tick = Math.floor(clock() / options.tickMs);
    if (entry !== undefined && entry.counter === counter && entry.tick === tick) return entry;
    const fresh = {
      tick,
      now,
      counter,
      order: counter.artistOrder(window, now),
      searches: new Map(),
    };
    orders.set(window, fresh);
    return fresh;
  }

  return {
    overview(counter, window, now, page) {
      const { order, now: at } = ordered(counter, window, now);
      const from = windowStart(window, at);
      const artists: ArtistOverview[] = [];
      for (const id of order.subarray(page.offset, page.offset + page.limit)) {
        artists.push(counter.artistIn(window, id));
      }
      return {
        window,
        from: from === undefined ? null : new Date(from).toISOString(),
        updated_at: new Date(at).toISOString(),
        count: order.length,
        offset: page.offset,
        limit: page.limit,
        artists,
      };
    },
    artists(counter, q, now, page) {
      const entry = ordered(counter, "all", now);
      let matching = q === "" ? entry.order : entry.searches.get(q);
      if (matching === undefined) {
        const places = entry.places ??= placesIn(entry.order);
        const found = Int32Array.from(
          counter.findArtists(q).map((id) => places[id] ?? -1).filter((place) => place >= 0),
        ).sort();
        matching = found.map((place) => entry.order[place]!);
        if (entry.searches.size >= 64) entry.searches.clear(); // a few per tick, not every one
        entry.searches.set(q, matching);
      }
      const artists: ArtistPlays[] = [];
      for (const id of matching.subarray(page.offset, page.offset + page.limit)) {
        artists.push(counter.artistAt(id));
      }
      return { q, count: matching.length, offset: page.offset, limit: page.limit, artists };
    },
  };
}
