/**
 * Simulated listeners: an endless, optionally seeded stream of realistic
 * `song_completed` events drawn from the catalog. Artist and song choice
 * follow Zipf-like popularity; listeners follow a skewed activity curve.
 *
 * @module
 */

import { type Artist, buildCatalog, pick, zipfCumulative } from "./catalog.ts";
import type { SongCompleted } from "../event.ts";

/** A small, fast, seedable PRNG (mulberry32) returning numbers in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@linkcode createSimulator}. */
export interface SimulatorOptions {
  /** Only this artist (a slug from the catalog). */
  artist?: string | undefined;
  /** Seed of the play sequence; random when omitted. */
  seed?: number | undefined;
  /** The catalog (default {@linkcode buildCatalog}). */
  catalog?: Artist[];
  /** Size of the listener population (default 250 000). */
  listeners?: number;
  /** Event time (default: now). */
  now?: () => Date;
  /** Event id source (default: `crypto.randomUUID`). */
  newId?: () => string;
}

/** Produces one event per call. */
export type Simulator = () => SongCompleted;

/**
 * Creates a simulator. Throws when `artist` is not in the catalog.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSimulator } from "./simulator.ts";
 * const next = createSimulator({ artist: "tony-allen", seed: 1 });
 * assert.equal(next().artist, "tony-allen");
 * ```
 */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const catalog = options.catalog ?? buildCatalog();
  const artists = options.artist === undefined
    ? catalog
    : catalog.filter((artist) => artist.slug === options.artist);
  if (artists.length === 0) {
    const known = catalog.slice(0, 8).map((artist) => artist.slug).join(", ");
    throw new Error(
      `Unknown artist ${JSON.stringify(options.artist)}: expected a catalog slug such as ${known}`,
    );
  }
  const random = prng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const artistTable = zipfCumulative(artists.length, 0.9);
  const songTables = artists.map((artist) => zipfCumulative(artist.songs.length));
  const listeners = options.listeners ?? 250_000;
  const listenerTable = zipfCumulative(Math.min(listeners, 10_000), 0.6);
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? (() => crypto.randomUUID());
  return () => {
    const a = pick(artistTable, random());
    const artist = artists[a]!;
    const song = artist.songs[pick(songTables[a]!, random())]!;
    // A skewed head of heavy listeners, then a long uniform tail.
    const user = random() < 0.5
      ? 1_000 + pick(listenerTable, random())
      : 1_000 + Math.floor(random() * listeners);
    return {
      event_id: newId(),
      user_id: user,
      artist: artist.slug,
      song_id: song.song_id,
      song_name: song.song_name,
      event_type: "song_completed",
      timestamp: now().toISOString(),
    };
  };
}

/**
 * How many events should have been sent after `elapsedMs` at `rate` per
 * second, minus those already `sent` (never negative). Rate 0 means no limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventsDue } from "./simulator.ts";
 * assert.equal(eventsDue(1_500, 10, 12), 3); // 15 due after 1.5 s at 10/s
 * ```
 */
export function eventsDue(elapsedMs: number, rate: number, sent: number): number {
  if (rate === 0) return Number.POSITIVE_INFINITY;
  return Math.max(0, Math.floor((elapsedMs * rate) / 1000) - sent);
}
