/**
 * Deduplication over a bounded horizon: the ids of the plays read in the
 * last minutes, not of every play ever read. Two {@linkcode IdSet}s take
 * turns: ids go into the current one; every `horizonMs` of wall time the
 * previous one is dropped and the current one becomes the previous. An id is
 * therefore remembered for at least `horizonMs` and at most twice that, and
 * memory follows the play rate, not the history.
 *
 * What is older than the horizon is deduplicated by BigQuery instead: the
 * dashboard takes the plays below the consumer's committed offsets from
 * BigQuery's `COUNT(DISTINCT event_id)` (see history.ts).
 *
 * @module
 */

import { createIdSet, type IdSet } from "./id_set.ts";

/** A set of the ids seen within the horizon. */
export interface RecentIds {
  /** Adds `id`; returns false when it was seen within the horizon. */
  add(id: string): boolean;
  /** Whether `id` was seen within the horizon. */
  has(id: string): boolean;
  /** Forgets what is older than the horizon at wall time `now` (ms). */
  advance(now: number): void;
  /** Ids held. */
  readonly size: number;
  /** Bytes held by the tables. */
  readonly bytes: number;
}

/** Options of {@linkcode createRecentIds}. */
export interface RecentIdsOptions {
  /** Shortest time an id is remembered, in ms. */
  horizonMs: number;
  /** Wall time at creation (default `Date.now()`). */
  now?: number;
}

/**
 * Creates an empty set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRecentIds } from "./recent_ids.ts";
 * const seen = createRecentIds({ horizonMs: 60_000, now: 0 });
 * assert.equal(seen.add("a"), true);
 * seen.advance(60_000); // "a" is in the previous table now
 * assert.equal(seen.add("a"), false);
 * seen.advance(120_000); // and gone after two turns
 * assert.equal(seen.add("a"), true);
 * ```
 */
export function createRecentIds(options: RecentIdsOptions): RecentIds {
  const { horizonMs } = options;
  if (!Number.isFinite(horizonMs) || horizonMs <= 0) {
    throw new RangeError(
      `Cannot keep recent ids: 'horizonMs' must be positive, got ${horizonMs}`,
    );
  }
  let current: IdSet = createIdSet(4096);
  let previous: IdSet = createIdSet(16);
  let turnedAt = options.now ?? Date.now();

  return {
    add(id) {
      if (previous.has(id)) return false;
      return current.add(id);
    },
    has(id) {
      return current.has(id) || previous.has(id);
    },
    advance(now) {
      if (now - turnedAt < horizonMs) return;
      // After two horizons without a turn nothing is left worth keeping.
      previous = now - turnedAt >= 2 * horizonMs ? createIdSet(16) : current;
      current = createIdSet(Math.max(16, previous.size));
      turnedAt = now;
    },
    get size() {
      return current.size + previous.size;
    },
    get bytes() {
      return current.bytes + previous.bytes;
    },
  };
}
