/**
 * Counting: plays in sliding event-time windows (5 minutes, an hour, a day)
 * and of all time, deduplicated by `event_id`, with each artist's top songs,
 * trends and totals kept on every play. Per-song state lives in typed arrays
 * outside V8's heap; a song is held for the windows only while a window
 * counts it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPlayCounter } from "./mod.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const counter = createPlayCounter({ now });
 * counter.add({
 *   event_id: crypto.randomUUID(), user_id: 1, artist: "tony-allen", song_id: 1,
 *   song_name: "zombie", event_type: "song_completed", timestamp: new Date(now).toISOString(),
 * });
 * assert.equal(counter.top("tony-allen", "5m", 10, now).total, 1);
 * ```
 *
 * @module
 */

export {
  type ArtistPlays,
  type ArtistWindowTotal,
  type CounterStats,
  createPlayCounter,
  DEFAULT_DEDUP_HORIZON_MS,
  FINITE_WINDOWS,
  type FiniteWindowName,
  heldFrom,
  isWindowName,
  LONGEST_WINDOW_MS,
  type PlayCounter,
  type RankChange,
  rankChange,
  type SongHistory,
  songKey,
  WINDOW_NAMES,
  type WindowName,
  WINDOWS,
  windowStart,
} from "./windows.ts";
export type { SongPlays } from "./song_plays.ts";
