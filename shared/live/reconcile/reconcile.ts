/**
 * Reconciliation: the dashboard's counts for every window against BigQuery's
 * `COUNT(DISTINCT event_id)` per artist and song over exactly the same range
 * (the window's bucket-aligned `from`, taken once for both sides).
 *
 * @module
 */

import { playsTableRef, queryPages, type Warehouse } from "../../bigquery/mod.ts";
import { DEFAULT_MAX_FUTURE_MS } from "../../event.ts";
import { eventTimeSql } from "../feed/history.ts";
import { type PlayCounter, WINDOW_NAMES, type WindowName } from "../counting/mod.ts";

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
  /** Songs whose plays differ. */
  different: number;
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

/** Differences kept per window: the largest. */
const SHOWN_DIFFERENCES = 20;

/** What one window's comparison found, once BigQuery's answer was read whole. */
export interface Comparison {
  /** The dashboard's plays in the window. */
  dashboard: number;
  /** BigQuery's plays in the window. */
  bigquery: number;
  /** Songs whose plays differ. */
  different: number;
  /** At most 20 of them, largest difference first (ties by artist, then song_id). */
  differences: Difference[];
}

/** Songs of the dashboard's counter, by serial (see `PlayCounter.findSong`). */
export interface SongIndex {
  findSong(artist: string, songId: number): number;
  songBySerial(serial: number): { artist: string; song_id: number };
}

function before(a: Difference, b: Difference): boolean {
  const gapA = Math.abs(a.dashboard - a.bigquery);
  const gapB = Math.abs(b.dashboard - b.bigquery);
  if (gapA !== gapB) return gapA > gapB;
  if (a.artist !== b.artist) return a.artist < b.artist;
  return a.song_id < b.song_id;
}

/**
 * Compares the dashboard's plays of one window (`dashboard`, by song
 * serial) with BigQuery's, handed to `bigquery()` a song at a time as its
 * answer is read: nothing per song is kept but a byte for "BigQuery named
 * it", and only the 20 largest differences are built, so a whole catalog
 * compares in a few bytes a song. `finish()` adds the songs BigQuery did
 * not name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareSongs } from "./reconcile.ts";
 * const known = ["tony-allen/1", "tony-allen/2", "fela-kuti/1"];
 * const songs = {
 *   findSong: (artist: string, id: number) => known.indexOf(`${artist}/${id}`),
 *   songBySerial: (serial: number) => {
 *     const [artist, id] = known[serial]!.split("/");
 *     return { artist: artist!, song_id: Number(id) };
 *   },
 * };
 * const comparison = compareSongs(new Float64Array([5, 3, 1]), songs);
 * comparison.bigquery("tony-allen", 1, 5);
 * comparison.bigquery("tony-allen", 2, 1);
 * comparison.bigquery("tony-allen", 9, 1); // a song the dashboard never saw
 * assert.deepEqual(comparison.finish(), {
 *   dashboard: 9,
 *   bigquery: 7,
 *   different: 3,
 *   differences: [
 *     { artist: "tony-allen", song_id: 2, dashboard: 3, bigquery: 1 },
 *     { artist: "fela-kuti", song_id: 1, dashboard: 1, bigquery: 0 },
 *     { artist: "tony-allen", song_id: 9, dashboard: 0, bigquery: 1 },
 *   ],
 * });
 * ```
 */
export function compareSongs(
  dashboard: Float64Array,
  songs: SongIndex,
): { bigquery(artist: string, songId: number, plays: number): void; finish(): Comparison } {
  const named = new Uint8Array(dashboard.length);
  const shown: Difference[] = [];
  let [bigquery, different] = [0, 0];

  function differ(difference: Difference): void {
    different++;
    if (shown.length === SHOWN_DIFFERENCES && !before(difference, shown.at(-1)!)) return;
    let at = shown.length;
    while (at > 0 && before(difference, shown[at - 1]!)) at--;
    shown.splice(at, 0, difference);
    if (shown.length > SHOWN_DIFFERENCES) shown.pop();
  }

  return {
    bigquery(artist, songId, plays) {
      bigquery += plays;
      const serial = songs.findSong(artist, songId);
      const mine = serial >= 0 && serial < dashboard.length ? dashboard[serial]! : 0;
      if (serial >= 0 && serial < dashboard.length) named[serial] = 1;
      if (mine !== plays) differ({ artist, song_id: songId, dashboard: mine, bigquery: plays });
    },
    finish() {
      let total = 0;
      for (let serial = 0; serial < dashboard.length; serial++) {
        const mine = dashboard[serial]!;
        total += mine;
        if (mine > 0 && named[serial] === 0) {
          differ({ ...songs.songBySerial(serial), dashboard: mine, bigquery: 0 });
        }
      }
      return { dashboard: total, bigquery, different, differences: shown };
    },
  };
}

/**
 * Reads BigQuery's plays per song since `from` (ms since the epoch; all
 * time when undefined) a page at a time into `comparison`.
 */
async function readBigQueryCounts(
  warehouse: Warehouse,
  from: number | undefined,
  clock: { now: number; maxFutureMs: number },
  partitions: readonly number[] | undefined,
  comparison: { bigquery(artist: string, songId: number, plays: number): void },
): Promise<void> {
  const conditions = [
    ...(from === undefined ? [] : [`timestamp >= TIMESTAMP_MILLIS(${Math.floor(from)})`]),
    eventTimeSql(clock.now, clock.maxFutureMs),
    ...(partitions === undefined ? [] : [partitionsSql(partitions)]),
  ];
  await queryPages(
    warehouse,
    `SELECT artist, song_id, COUNT(DISTINCT event_id) AS plays
     FROM ${playsTableRef(warehouse.config)} WHERE ${conditions.join(" AND ")}
     GROUP BY artist, song_id`,
    (rows) => {
      for (const row of rows) {
        comparison.bigquery(String(row.artist), Number(row.song_id), Number(row.plays));
      }
    },
  );
}

/**
 * SQL of "the row was read from one of `partitions`".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionsSql } from "./reconcile.ts";
 * assert.equal(partitionsSql([0, 2]), "kafka_partition IN (0, 2)");
 * assert.equal(partitionsSql([]), "FALSE");
 * ```
 */
export function partitionsSql(partitions: readonly number[]): string {
  for (const partition of partitions) {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new RangeError(`Cannot write a partition into SQL: got ${partition}`);
    }
  }
  return partitions.length === 0 ? "FALSE" : `kafka_partition IN (${partitions.join(", ")})`;
}

/**
 * Compares every window at wall time `now`. The dashboard side is captured
 * for all windows before BigQuery is asked, so nothing moves in between.
 */
export async function reconcile(
  counter: PlayCounter,
  warehouse: Warehouse,
  now: number,
  options: { maxFutureMs?: number; onlyPartitions?: readonly number[] | undefined } = {},
): Promise<Reconciliation> {
  const clock = { now, maxFutureMs: options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS };
  const snapshots = WINDOW_NAMES.map((window) => ({
    window,
    ...counter.playsBySong(window, now),
  }));
  const windows: WindowCheck[] = [];
  for (const snapshot of snapshots) {
    const comparison = compareSongs(snapshot.plays, counter);
    await readBigQueryCounts(
      warehouse,
      snapshot.from,
      clock,
      options.onlyPartitions,
      comparison,
    );
    const found = comparison.finish();
    windows.push({
      window: snapshot.window,
      from: snapshot.from === undefined ? null : new Date(snapshot.from).toISOString(),
      dashboard: found.dashboard,
      bigquery: found.bigquery,
      different: found.different,
      differences: found.differences,
      equal: found.different === 0,
    });
  }
  return {
    checked_at: new Date(now).toISOString(),
    equal: windows.every((check) => check.equal),
    windows,
  };
}
