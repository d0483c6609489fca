/**
 * The overview of the whole service: every artist's plays in a window and
 * their current number one, most played first — the wall-screen view.
 *
 * @module
 */

import { type PlayCounter, type SongPlays, type WindowName, windowStart } from "./windows.ts";

/** One artist in the overview. */
export interface ArtistOverview {
  artist: string;
  /** Plays of the artist in the window (equal to `/api/top`'s `total`). */
  total: number;
  /** Their most played song in the window, `null` without plays in it. */
  top: SongPlays | null;
}

/** The document of `/api/overview`. */
export interface OverviewDocument {
  window: WindowName;
  /** Window start (ISO), `null` for `all`. */
  from: string | null;
  updated_at: string;
  /** Artists with plays in the window, most played first (ties by name). */
  artists: ArtistOverview[];
}

/**
 * Builds the overview of `window` at `now`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overviewDocument } from "./overview.ts";
 * import { createPlayCounter } from "./windows.ts";
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
 * ```
 */
export function overviewDocument(
  counter: PlayCounter,
  window: WindowName,
  now: number,
): OverviewDocument {
  const artists: ArtistOverview[] = [];
  const from = windowStart(window, now);
  for (const { artist } of counter.artists()) {
    const top = counter.top(artist, window, 1, now);
    if (top.total <= 0) continue;
    artists.push({ artist, total: top.total, top: top.songs[0] ?? null });
  }
  artists.sort((a, b) => b.total - a.total || (a.artist < b.artist ? -1 : 1));
  return {
    window,
    from: from === undefined ? null : new Date(from).toISOString(),
    updated_at: new Date(now).toISOString(),
    artists,
  };
}
