/**
 * Helpers for the dashboard's integration and browser tests: fresh names,
 * its JSON API, BigQuery's answer for the same window, and known plays. The
 * dashboard itself runs through `startDashboard` of bench/dashboard.ts.
 *
 * @module
 */

import { query } from "../../shared/bigquery/warehouse.ts";
import type { DashboardNames } from "../../bench/dashboard.ts";
import { uniqueName, warehouseFor } from "./harness.ts";

/** Fresh names for a test. */
export function dashboardNames(): DashboardNames {
  const id = uniqueName("dash");
  return { topic: id, table: id, group: `group_${id}`, view: `${id}_top_songs` };
}

/** GETs `path` and parses the JSON body. */
export async function getJson(
  url: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: await response.json() };
}

/** BigQuery's `COUNT(DISTINCT event_id)` per song of `artist` since `from`. */
export async function bigqueryTop(
  table: string,
  artist: string,
  from: string | null,
): Promise<{ song_id: number; plays: number }[]> {
  const rows = await query(
    warehouseFor(table),
    `SELECT song_id, COUNT(DISTINCT event_id) AS plays
     FROM \`livecharts-local.music.${table}\`
     WHERE artist = @artist ${from === null ? "" : "AND timestamp >= TIMESTAMP(@from)"}
     GROUP BY song_id
     ORDER BY plays DESC, song_id`,
    from === null ? { artist } : { artist, from },
  );
  return rows.map((row) => ({ song_id: Number(row.song_id), plays: Number(row.plays) }));
}

/** A valid event for `artist`/`song_id` at `at` (ms). */
export function playAt(
  at: number,
  songId: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    user_id: 1 + Math.floor(Math.random() * 1_000),
    artist: "tony-allen",
    song_id: songId,
    song_name: ["zombie", "lady", "secret-agent", "kindness", "soldiers"][songId - 1] ??
      `song-${songId}`,
    event_type: "song_completed",
    timestamp: new Date(at).toISOString(),
    ...overrides,
  };
}

/**
 * A known mix around `now`: every window boundary, two artists, duplicates,
 * tutorial-format events and invalid messages.
 */
export function knownMix(now: number): string[] {
  const second = 1_000;
  const minute = 60 * second;
  const hour = 60 * minute;
  const ages = [
    10 * second,
    40 * second,
    3 * minute,
    20 * minute,
    50 * minute,
    2 * hour,
    20 * hour,
    30 * hour,
    10 * 24 * hour,
  ];
  const events: Record<string, unknown>[] = [];
  ages.forEach((age, i) => {
    for (let song = 1; song <= 5; song++) {
      // Song popularity differs per age, so each window has its own order.
      for (let n = 0; n < ((song * (i + 2)) % 4) + 1; n++) events.push(playAt(now - age, song));
    }
    events.push(playAt(now - age, 1, { artist: "fela-kuti", song_name: "water-no-get-enemy" }));
  });
  const duplicates = events.filter((_, i) => i % 7 === 0);
  const tutorial = [
    {
      user_id: 5,
      artist: "tony-allen",
      song_id: 2,
      song_name: "lady",
      event_type: "song_completed",
      timestamp: "2022-11-03 07:22:13",
    },
    {
      user_id: 6,
      artist: "tony-allen",
      song_id: 4,
      song_name: "kindness",
      event_type: "song_completed",
      timestamp: new Date(now - 90 * second).toISOString().replace("T", " ").slice(0, 19),
    },
  ];
  const invalid = ["not json", JSON.stringify({ ...playAt(now, 1), song_id: "one" })];
  return [...events, ...duplicates, ...tutorial].map((event) => JSON.stringify(event))
    .concat(invalid);
}
