/**
 * Simulated listeners: an endless, optionally seeded stream of realistic
 * `song_completed` events drawn from the catalog. Artist and song choice
 * follow Zipf-like popularity; listeners follow a skewed activity curve.
 *
 * @module
 */

import { type Artist, buildCatalog, pick, zipfCumulative } from "./catalog.ts";
import { type Catalog, listCatalog } from "./generated_catalog.ts";
import { prng } from "./random.ts";
import type { SongCompleted } from "../event.ts";

export { prng } from "./random.ts";

/** Options of {@linkcode createSimulator}. */
export interface SimulatorOptions {
  /** Only this artist (a slug from the catalog). */
  artist?: string | undefined;
  /** Seed of the play sequence; random when omitted. */
  seed?: number | undefined;
  /** The catalog (default {@linkcode buildCatalog}). */
  catalog?: Artist[] | Catalog;
  /** Size of the listener population (default 250 000). */
  listeners?: number;
  /** Event time (default: now). */
  now?: () => Date;
  /** Spread event times uniformly over this many ms before `now` (default 0: all at `now`). */
  spreadMs?: number;
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
  const given = options.catalog ?? buildCatalog();
  const catalog = Array.isArray(given) ? listCatalog(given) : given;
  let only: number | undefined;
  if (options.artist !== undefined) {
    for (let i = 0; i < catalog.size && only === undefined; i++) {
      if (catalog.slug(i) === options.artist) only = i;
    }
    if (only === undefined) {
      const known = Array.from({ length: Math.min(8, catalog.size) }, (_, i) => catalog.slug(i))
        .join(", ");
      throw new Error(
        `Unknown artist ${
          JSON.stringify(options.artist)
        }: expected a catalog slug such as ${known}`,
      );
    }
  }
  const random = prng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const artistTable = zipfCumulative(only === undefined ? catalog.size : 1, 0.9);
  // One table per song count (a generated catalog has one for all).
  const songTables = new Map<number, number[]>();
  const songTable = (count: number): number[] => {
    let table = songTables.get(count);
    if (table === undefined) songTables.set(count, table = zipfCumulative(count));
    return table;
  };
  const listeners = options.listeners ?? 250_000;
  const listenerTable = zipfCumulative(Math.min(listeners, 10_000), 0.6);
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? (() => crypto.randomUUID());
  const spreadMs = options.spreadMs ?? 0;
  return () => {
    const drawn = pick(artistTable, random()); // drawn also for one artist: the same sequence
    const a = only ?? drawn;
    const song = catalog.song(a, pick(songTable(catalog.songCount(a)), random()));
    // A skewed head of heavy listeners, then a long uniform tail.
    const user = random() < 0.5
      ? 1_000 + pick(listenerTable, random())
      : 1_000 + Math.floor(random() * listeners);
    const at = spreadMs > 0 ? new Date(now().getTime() - Math.floor(random() * spreadMs)) : now();
    return {
      event_id: newId(),
      user_id: user,
      artist: catalog.slug(a),
      song_id: song.song_id,
      song_name: song.song_name,
      event_type: "song_completed",
      timestamp: at.toISOString(),
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
