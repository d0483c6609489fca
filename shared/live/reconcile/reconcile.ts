/**
 * Reconciliation: the dashboard's counts for every window against BigQuery's
 * `COUNT(DISTINCT event_id)` per artist and song over exactly the same range
 * (the window's bucket-aligned `from`, taken once for both sides).
 *
 * @module
 */

import { playsTableRef, query, type Warehouse } from "../../bigquery/mod.ts";
import { DEFAULT_MAX_FUTURE_MS } from "../../event.ts";
import { eventTimeSql } from "../feed/history.ts";
import { type PlayCounter, songKey, WINDOW_NAMES, type WindowName } from "../counting/mod.ts";

/** A song whose counts differ. */
export interface Difference {
  artist: string;
  song_id: number;
  dashboard: number;
  bigquery: number;
}

/** One window's comparison. */
export interface WindowCheck {
  window: WindowName;
  /** ISO time the window starts at, `null` for `all`. */
  from: string | null;
  dashboard: number;
  bigquery: number;
  /** At most 20 differences, largest first. */
  differences: Difference[];
  equal: boolean;
}

/** The whole comparison. */
export interface Reconciliation {
  checked_at: string;
  equal: boolean;
  windows: WindowCheck[];
}

/**
 * Songs whose plays differ between two `artist/song_id → plays` maps,
 * largest difference first (ties by key).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareCounts } from "./reconcile.ts";
 * assert.deepEqual(
 *   compareCounts(new Map([["tony-allen/1", 3]]), new Map([["tony-allen/1", 2]])),
 *   [{ artist: "tony-allen", song_id: 1, dashboard: 3, bigquery: 2 }],
 * );
 * ```
 */
export function compareCounts(
  dashboard: ReadonlyMap<string, number>,
  bigquery: ReadonlyMap<string, number>,
): Difference[] {
  const keys = new Set([...dashboard.keys(), ...bigquery.keys()]);
  const differences: Difference[] = [];
  for (const key of [...keys].sort()) {
    const d = dashboard.get(key) ?? 0;
    const b = bigquery.get(key) ?? 0;
    if (d === b) continue;
    const slash = key.lastIndexOf("/");
    differences.push({
      artist: key.slice(0, slash),
      song_id: Number(key.slice(slash + 1)),
      dashboard: d,
      bigquery: b,
    });
  }
  return differences.sort((a, b) =>
    Math.abs(b.dashboard - b.bigquery) - Math.abs(a.dashboard - a.bigquery)
  );
}

/**
 * BigQuery's plays per song since `from` (ms since the epoch; all time when
 * undefined), keyed `artist/song_id`.
 */
export async function bigqueryCounts(
  warehouse: Warehouse,
  from: number | undefined,
  clock?: { now: number; maxFutureMs: number },
): Promise<Map<string, number>> {
  const conditions = [
    ...(from === undefined ? [] : ["timestamp >= TIMESTAMP(@from)"]),
    ...(clock === undefined ? [] : [eventTimeSql(clock.now, clock.maxFutureMs)]),
  ];
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  const rows = await query(
    warehouse,
    `SELECT artist, song_id, COUNT(DISTINCT event_id) AS plays
     FROM ${playsTableRef(warehouse.config)} ${where}
     GROUP BY artist, song_id`,
    from === undefined ? undefined : { from: new Date(from).toISOString() },
  );
  const counts = new Map<string, number>();
  for (const row of rows) {
    counts.set(songKey(String(row.artist), Number(row.song_id)), Number(row.plays));
  }
  return counts;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/**
 * Compares every window at wall time `now`. The dashboard side is captured
 * for all windows before BigQuery is asked, so nothing moves in between.
 */
export async function reconcile(
  counter: PlayCounter,
  warehouse: Warehouse,
  now: number,
  options: { maxFutureMs?: number } = {},
): Promise<Reconciliation> {
  const clock = { now, maxFutureMs: options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS };
  const snapshots = WINDOW_NAMES.map((window) => ({ window, ...counter.counts(window, now) }));
  const windows: WindowCheck[] = [];
  for (const snapshot of snapshots) {
    const remote = await bigqueryCounts(warehouse, snapshot.from, clock);
    const differences = compareCounts(snapshot.plays, remote);
    windows.push({
      window: snapshot.window,
      from: snapshot.from === undefined ? null : new Date(snapshot.from).toISOString(),
      dashboard: sum(snapshot.plays.values()),
      bigquery: sum(remote.values()),
      differences: differences.slice(0, 20),
      equal: differences.length === 0,
    });
  }
  return {
    checked_at: new Date(now).toISOString(),
    equal: windows.every((check) => check.equal),
    windows,
  };
}
