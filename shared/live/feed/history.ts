/**
 * The history below the anchors, aggregated by BigQuery: what the dashboard
 * starts from instead of replaying the topic. Two queries, each one scan:
 *
 * - **all time**: `COUNT(DISTINCT event_id)` per artist and song of the rows
 *   with `kafka_offset` below the anchor of their partition, with the name
 *   and event time of each song's latest play;
 * - **windows**: the same count per artist, song and bucket of the `5m`,
 *   `1h` and `24h` windows (1 s, 10 s and 60 s buckets, aligned like
 *   `windowStart()`, from `heldFrom()`: `5m` and `1h` with their previous
 *   period, for rank changes), filtered on `timestamp`, the table's partitioning
 *   column, so only the last day or two of partitions are read.
 *
 * Both answer one row per artist, its songs packed into one text (a JSON
 * array for all time, a line per window and song for the buckets): a
 * catalog's answer is then a tenth as many rows as it has songs, and the
 * cost of an answer in BigQuery's REST pages is per row and cell more than
 * per byte (measured on the local BigQuery: 200,000 rows of five cells paged
 * in 4.15 s, the same values packed into 20,000 rows in 0.42 s).
 *
 * Both answers go where the caller says as their pages are read (the
 * counter itself, see {@linkcode seedCounter}): a catalog is never held
 * twice, once as an answer and once as counts, and the counting is done
 * while BigQuery prepares the next pages.
 *
 * When re-anchoring, all time is not asked for again in full: with the
 * previous anchors known and every play between them read from Kafka, only
 * partitions since the earliest of those plays change, so BigQuery is asked
 * for the distinct plays there below the new anchors minus those below the
 * old ones (a re-sent play has the same event time, so it lands in the same
 * partition and is counted once), added to what the old counter was seeded
 * with ({@linkcode PlayCounter.forEachSeeded}).
 *
 * @module
 */

import { playsTableRef, queryPages, type Warehouse } from "../../bigquery/mod.ts";
import { DEFAULT_MAX_FUTURE_MS, latestEventTime } from "../../event.ts";
import type { PartitionAnchor } from "./anchors.ts";
import {
  FINITE_WINDOWS,
  type FiniteWindowName,
  heldFrom,
  LONGEST_WINDOW_MS,
  type PlayCounter,
  type SongHistory,
  WINDOWS,
} from "../counting/mod.ts";

/**
 * Artists per page of BigQuery's answers: a page of a catalog of 10 songs an
 * artist is a few megabytes, under the 10 MB BigQuery sends at most.
 */
export const HISTORY_PAGE = { pageRows: 2_000 };

/**
 * Where BigQuery's history goes as its pages are read: songs of all time
 * and window buckets, in no particular order between the two (a song's
 * buckets may come before its all time). A counter: {@linkcode seedCounter}.
 */
export interface HistorySink {
  /** Adds a song's plays of all time; its latest play wins the name. */
  add(song: SongHistory): void;
  /** Adds a song's plays in the bucket of `window` starting at `start` (ms). */
  addBucket(
    window: FiniteWindowName,
    artist: string,
    songId: number,
    start: number,
    plays: number,
  ): void;
  /**
   * Makes room at once for about `songs` songs of all time and `windowSongs`
   * in the windows, in all (estimates from the first pages).
   */
  reserve?(songs: number, windowSongs: number): void;
}

/** What {@linkcode loadHistory} added. */
export interface History {
  /** Songs of all time added (asked as a change since earlier anchors: the songs it touched). */
  songs: number;
  /** Window buckets added. */
  buckets: number;
  /** Queries run (0 when nothing lies below the anchors). */
  queries: number;
  /** Whether all time was asked for in full rather than as a change since the previous anchors. */
  full: boolean;
}

/**
 * Earlier anchors, for asking BigQuery only what changed below the new ones
 * (the sink already holds all time below the earlier ones).
 */
export interface PreviousHistory {
  anchors: readonly PartitionAnchor[];
  /**
   * Earliest event time (ms) of the plays between the earlier anchors and
   * the new ones; `undefined` when there were none.
   */
  since: number | undefined;
}

/** What {@linkcode loadHistory} asks for. */
export interface HistoryRequest {
  anchors: readonly PartitionAnchor[];
  /** Wall time the windows start from (ms). */
  now: number;
  /** The counter's allowed lateness; plays written later than this after their event time are left out of the windows. */
  allowedLatenessMs: number;
  /** How far ahead of the clock an event time may be (default 5 minutes): later plays are left out. */
  maxFutureMs?: number;
  previous?: PreviousHistory;
}

/**
 * SQL of the event-time rule (`checkEventTime`) on stored plays: the event
 * time at most `maxFutureMs` ahead of `now` (a play stored under a wider
 * skew counts once its time has come; `ingested_at` is not read, so the
 * rule adds no bytes to a scan).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventTimeSql } from "./history.ts";
 * assert.equal(eventTimeSql(1_000, 500, "p"), "p.timestamp <= TIMESTAMP_MILLIS(1500)");
 * ```
 */
export function eventTimeSql(now: number, maxFutureMs: number, alias = ""): string {
  const prefix = alias === "" ? "" : `${alias}.`;
  return `${prefix}timestamp <= TIMESTAMP_MILLIS(${
    Math.floor(latestEventTime({ now, maxFutureMs }))
  })`;
}

/**
 * SQL of "the row is below its partition's anchor" for `column`s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { belowAnchorsSql } from "./history.ts";
 * assert.equal(
 *   belowAnchorsSql([{ partition: 0, below: 7n, start: 7n, end: 9n }]),
 *   "kafka_offset < CASE kafka_partition WHEN 0 THEN 7 ELSE 0 END",
 * );
 * ```
 */
export function belowAnchorsSql(anchors: readonly PartitionAnchor[], alias = ""): string {
  const prefix = alias === "" ? "" : `${alias}.`;
  const cases = anchors.map((anchor) => {
    if (!Number.isSafeInteger(anchor.partition) || anchor.partition < 0 || anchor.below < 0n) {
      throw new RangeError(
        `Cannot write an anchor into SQL: expected offsets of 0 or more, got ${anchor.partition}:${anchor.below}`,
      );
    }
    return `WHEN ${anchor.partition} THEN ${anchor.below}`;
  });
  return cases.length === 0
    ? `${prefix}kafka_offset < 0`
    : `${prefix}kafka_offset < CASE ${prefix}kafka_partition ${cases.join(" ")} ELSE 0 END`;
}

/**
 * A play's place in time and name as text that sorts like (timestamp, song
 * name): 20 digits of milliseconds, then the name. The largest key of a
 * song is its latest play, at a tie of times the name that sorts last (by
 * its bytes, as song_names.ts orders names), and the name is the key less
 * its 20 digits. Cheaper to find than an ordered ARRAY_AGG (about a third of
 * the time on 1 M rows in the local BigQuery).
 */
const LATEST_KEY = "CONCAT(LPAD(CAST(UNIX_MILLIS(timestamp) AS STRING), 20, '0'), song_name)";

/**
 * A value as JSON text in SQL, `null` when NULL: a NULL inside `CONCAT`
 * would make the whole song NULL, and `STRING_AGG` would leave it out
 * silently (the local BigQuery's `TO_JSON_STRING(NULL)` is NULL, not `null`),
 * where the readers below refuse it with a reason.
 */
function jsonOf(sql: string): string {
  return `COALESCE(${sql}, 'null')`;
}

/**
 * The all-time query: per song, distinct plays below `anchors` (and, with
 * `previous`, below its anchors too, as `before`), since `since` when given;
 * one row per artist, its songs as a JSON array of
 * `[song_id, plays, before, latest_ms, song_name]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allTimeSql } from "./history.ts";
 * import { loadBigQueryConfig } from "../../bigquery/mod.ts";
 * const sql = allTimeSql(loadBigQueryConfig([], {}), [{ partition: 0, below: 5n, start: 5n, end: 5n }]);
 * assert.match(sql, /COUNT\(DISTINCT event_id\) AS plays/);
 * assert.match(sql, /GROUP BY artist$/);
 * assert.doesNotMatch(sql, /timestamp >=/);
 * ```
 */
export function allTimeSql(
  config: Warehouse["config"],
  anchors: readonly PartitionAnchor[],
  previous?: { anchors: readonly PartitionAnchor[]; since: number },
  clock: { now: number; maxFutureMs: number } = {
    now: Date.now(),
    maxFutureMs: DEFAULT_MAX_FUTURE_MS,
  },
): string {
  const before = previous === undefined
    ? "0"
    : `COUNT(DISTINCT IF(${belowAnchorsSql(previous.anchors)}, event_id, NULL))`;
  const since = previous === undefined
    ? ""
    : `\n    AND timestamp >= TIMESTAMP_MILLIS(${Math.floor(previous.since)})`;
  return `SELECT artist,
  CONCAT('[', STRING_AGG(CONCAT('[', ${jsonOf("CAST(song_id AS STRING)")}, ',',
    ${jsonOf("CAST(plays AS STRING)")}, ',', ${jsonOf("CAST(before AS STRING)")}, ',',
    ${jsonOf("CAST(latest_ms AS STRING)")}, ',', ${jsonOf("TO_JSON_STRING(song_name)")}, ']'),
    ','), ']') AS songs
FROM (
  SELECT artist, song_id,
    COUNT(DISTINCT event_id) AS plays,
    ${before} AS before,
    UNIX_MILLIS(MAX(timestamp)) AS latest_ms,
    SUBSTR(MAX(${LATEST_KEY}), 21) AS song_name
  FROM ${playsTableRef(config)}
  WHERE ${belowAnchorsSql(anchors)}${since}
    AND ${eventTimeSql(clock.now, clock.maxFutureMs)}
  GROUP BY artist, song_id
)
GROUP BY artist`;
}

/**
 * The windows query at wall time `now`: per window, artist and song, the
 * distinct plays of each bucket since the window's start, below `anchors`;
 * one row per artist, its songs as lines of `window song_id bucket:plays,…`
 * (bucket `b` of a window starts at `heldFrom(window, now) + b · width`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { windowsSql } from "./history.ts";
 * import { windowStart } from "../counting/mod.ts";
 * import { loadBigQueryConfig } from "../../bigquery/mod.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const sql = windowsSql(loadBigQueryConfig([], {}), [], now, 86_400_000);
 * // The scan is limited to the longest window's partitions.
 * assert.ok(sql.includes(`p.timestamp >= TIMESTAMP_MILLIS(${windowStart("24h", now)})`));
 * ```
 */
export function windowsSql(
  config: Warehouse["config"],
  anchors: readonly PartitionAnchor[],
  now: number,
  allowedLatenessMs: number,
  maxFutureMs = DEFAULT_MAX_FUTURE_MS,
): string {
  const windows = FINITE_WINDOWS.map((window) =>
    `SELECT '${window}' AS time_window, ${WINDOWS[window].bucketMs} AS width_ms, ${
      heldFrom(window, now)
    } AS since_ms`
  ).join("\n      UNION ALL ");
  const oldest = Math.min(...FINITE_WINDOWS.map((window) => heldFrom(window, now)));
  // Plays written later than the allowed lateness count in all time only (as
  // when read from Kafka; BigQuery knows when the row was written).
  const lateness = allowedLatenessMs < LONGEST_WINDOW_MS
    ? `\n      AND TIMESTAMP_DIFF(p.ingested_at, p.timestamp, MILLISECOND) <= ${
      Math.floor(allowedLatenessMs)
    }`
    : "";
  // Distinct plays are counted once per song and smallest bucket (every
  // window's start and width are whole multiples of it), then summed into
  // each window's buckets: one pass over the rows instead of one per window.
  // (The parentheses inside DIV are needed by the local emulator, which
  // otherwise reads DIV(a - b, c) as a - DIV(b, c).)
  const unit = Math.min(...FINITE_WINDOWS.map((window) => WINDOWS[window].bucketMs));
  return `SELECT artist,
  STRING_AGG(CONCAT(time_window, ' ', ${
    jsonOf("CAST(song_id AS STRING)")
  }, ' ', buckets), '\\n') AS songs
FROM (
SELECT time_window, artist, song_id,
  STRING_AGG(CONCAT(CAST(bucket AS STRING), ':', CAST(plays AS STRING)), ',') AS buckets
FROM (
  SELECT w.time_window, s.artist, s.song_id, w.width_ms, w.since_ms,
    DIV((s.at_ms - w.since_ms), w.width_ms) AS bucket, SUM(s.plays) AS plays
  FROM (
    SELECT p.artist, p.song_id, DIV(UNIX_MILLIS(p.timestamp), ${unit}) * ${unit} AS at_ms,
      COUNT(DISTINCT p.event_id) AS plays
    FROM ${playsTableRef(config)} AS p
    WHERE p.timestamp >= TIMESTAMP_MILLIS(${oldest})
      AND ${belowAnchorsSql(anchors, "p")}${lateness}
      AND ${eventTimeSql(now, maxFutureMs, "p")}
    GROUP BY artist, song_id, at_ms
  ) AS s
  CROSS JOIN (
      ${windows}
  ) AS w
  WHERE s.at_ms >= w.since_ms
  GROUP BY time_window, artist, song_id, width_ms, since_ms, bucket
)
GROUP BY time_window, artist, song_id
)
GROUP BY artist`;
}

function textOf(row: Record<string, unknown>, field: string): string {
  const value = row[field];
  if (typeof value !== "string") {
    throw new Error(
      `Cannot read BigQuery's history: '${field}' must be text, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function safeInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new Error(
      `Cannot read BigQuery's history: ${what} must be an integer, got ${
        JSON.stringify(value)?.slice(0, 64)
      }`,
    );
  }
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new Error(
      `Cannot read BigQuery's history: ${what} must be text, got ${
        JSON.stringify(value)?.slice(0, 64)
      }`,
    );
  }
  return value;
}

function parseSongs(row: Record<string, unknown>): unknown[] {
  const packed = textOf(row, "songs");
  let songs: unknown;
  try {
    songs = JSON.parse(packed);
  } catch {
    songs = undefined;
  }
  if (!Array.isArray(songs)) {
    throw new Error(
      `Cannot read BigQuery's history: 'songs' must be a JSON array, got ${
        JSON.stringify(packed.slice(0, 64))
      }`,
    );
  }
  return songs;
}

/**
 * Adds all-time rows (one an artist, see {@linkcode allTimeSql}) to
 * `songs`, a song at a time: its `plays - before` (the change since earlier
 * anchors when asked so) and its latest play. Returns how many songs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeAllTime } from "./history.ts";
 * import type { SongHistory } from "../counting/mod.ts";
 * const songs: SongHistory[] = [];
 * const sink = { add: (song: SongHistory) => void songs.push(song) };
 * const added = mergeAllTime(sink, [
 *   { artist: "tony-allen", songs: '[[1,4,2,9,"zombie!"],[2,1,0,3,"lady, \\"live\\""]]' },
 * ]);
 * assert.equal(added, 2);
 * assert.deepEqual(songs[0], {
 *   artist: "tony-allen", song_id: 1, plays: 2, song_name: "zombie!", latestAt: 9,
 * });
 * assert.equal(songs[1]?.song_name, 'lady, "live"');
 * assert.throws(
 *   () => mergeAllTime(sink, [{ artist: "x", songs: '[[1,"2",0,3,"n"]]' }]),
 *   /Cannot read BigQuery's history: 'plays' must be an integer, got "2"/,
 * );
 * ```
 */
export function mergeAllTime(
  songs: Pick<HistorySink, "add">,
  rows: readonly Record<string, unknown>[],
): number {
  let added = 0;
  for (const row of rows) {
    const artist = textOf(row, "artist");
    for (const song of parseSongs(row)) {
      if (!Array.isArray(song) || song.length !== 5) {
        throw new Error(
          `Cannot read BigQuery's history: expected [song_id, plays, before, latest_ms, song_name], got ${
            JSON.stringify(song)?.slice(0, 64)
          }`,
        );
      }
      songs.add({
        artist,
        song_id: safeInteger(song[0], "'song_id'"),
        plays: safeInteger(song[1], "'plays'") - safeInteger(song[2], "'before'"),
        latestAt: safeInteger(song[3], "'latest_ms'"),
        song_name: text(song[4], "'song_name'"),
      });
      added++;
    }
  }
  return added;
}

/** What {@linkcode addWindowRows} added. */
export interface WindowRowsAdded {
  /** Buckets added, all windows together. */
  buckets: number;
  /** Songs of the window with the most. */
  songs: number;
}

/**
 * Adds window rows (one an artist, see {@linkcode windowsSql}, asked at
 * wall time `now`) to `sink`, a bucket at a time. Returns the buckets added
 * and the songs of the window with the most.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addWindowRows } from "./history.ts";
 * import { heldFrom } from "../counting/mod.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const seen: unknown[] = [];
 * const sink = { addBucket: (...bucket: unknown[]) => void seen.push(bucket) };
 * const added = addWindowRows(sink, [
 *   { artist: "tony-allen", songs: "5m 1 0:2,299:1\n5m 2 1:1\n24h 1 3:3" },
 * ], now);
 * assert.deepEqual(added, { buckets: 4, songs: 2 });
 * assert.deepEqual(seen.sort(), [
 *   ["24h", "tony-allen", 1, heldFrom("24h", now) + 3 * 60_000, 3],
 *   ["5m", "tony-allen", 1, heldFrom("5m", now), 2],
 *   ["5m", "tony-allen", 1, heldFrom("5m", now) + 299_000, 1],
 *   ["5m", "tony-allen", 2, heldFrom("5m", now) + 1_000, 1],
 * ].sort());
 * assert.throws(
 *   () => addWindowRows(sink, [{ artist: "x", songs: "7d 1 0:1" }], now),
 *   /'time_window' must be one of 5m, 1h, 24h, got "7d"/,
 * );
 * ```
 */
export function addWindowRows(
  sink: Pick<HistorySink, "addBucket">,
  rows: readonly Record<string, unknown>[],
  now: number,
): WindowRowsAdded {
  let added = 0;
  const songsIn = FINITE_WINDOWS.map(() => 0);
  const since = FINITE_WINDOWS.map((window) => heldFrom(window, now));
  const widths = FINITE_WINDOWS.map((window) => WINDOWS[window].bucketMs);
  for (const row of rows) {
    const artist = textOf(row, "artist");
    const packed = textOf(row, "songs");
    // Read in place, a character at a time: an answer holds a line per
    // window and song of the catalog (three million at a million songs);
    // splitting them into strings and arrays took 0.85 s of CPU there,
    // reading them in place 0.25 s, with less garbage to collect.
    let at = 0;
    while (at <= packed.length) {
      const lineEnd = endOf(packed, at, NEWLINE);
      const space = endOf(packed, at, SPACE);
      const window = space < lineEnd ? windowAt(packed, at, space) : -1;
      if (window < 0) {
        const name = packed.slice(at, Math.min(space, lineEnd));
        throw new Error(
          `Cannot read BigQuery's history: 'time_window' must be one of ${
            FINITE_WINDOWS.join(", ")
          }, got ${JSON.stringify(name)}`,
        );
      }
      const idEnd = endOf(packed, space + 1, SPACE, lineEnd);
      const songId = integerAt(packed, space + 1, idEnd);
      if (songId === undefined || idEnd >= lineEnd) {
        throw new Error(
          `Cannot read BigQuery's history: expected 'window song_id buckets', got ${
            JSON.stringify(packed.slice(at, lineEnd).slice(0, 64))
          }`,
        );
      }
      songsIn[window]!++;
      const name = FINITE_WINDOWS[window]!;
      let pair = idEnd + 1;
      while (pair <= lineEnd) {
        const pairEnd = endOf(packed, pair, COMMA, lineEnd);
        const colon = endOf(packed, pair, COLON, pairEnd);
        const bucket = integerAt(packed, pair, colon);
        const plays = colon < pairEnd ? integerAt(packed, colon + 1, pairEnd) : undefined;
        if (bucket === undefined || plays === undefined) {
          throw new Error(
            `Cannot read BigQuery's history: expected 'bucket:plays' pairs, got ${
              JSON.stringify(packed.slice(pair, pairEnd).slice(0, 64))
            }`,
          );
        }
        sink.addBucket(name, artist, songId, since[window]! + bucket * widths[window]!, plays);
        added++;
        pair = pairEnd + 1;
      }
      at = lineEnd + 1;
    }
  }
  return { buckets: added, songs: Math.max(...songsIn) };
}

const NEWLINE = 10;
const SPACE = 32;
const COMMA = 44;
const COLON = 58;

/** Index of the first `char` in `text` from `from`, or `limit` when there is none before it. */
function endOf(text: string, from: number, char: number, limit = text.length): number {
  for (let i = from; i < limit; i++) if (text.charCodeAt(i) === char) return i;
  return limit;
}

/** The index in `FINITE_WINDOWS` of the name in `text` between `from` and `to`, or -1. */
function windowAt(text: string, from: number, to: number): number {
  search: for (let w = 0; w < FINITE_WINDOWS.length; w++) {
    const name = FINITE_WINDOWS[w]!;
    if (name.length !== to - from) continue;
    for (let i = 0; i < name.length; i++) {
      if (name.charCodeAt(i) !== text.charCodeAt(from + i)) continue search;
    }
    return w;
  }
  return -1;
}

/** The decimal integer (optionally negative) in `text` between `from` and `to`, or undefined. */
function integerAt(text: string, from: number, to: number): number | undefined {
  const negative = text.charCodeAt(from) === 45; // "-"
  const first = negative ? from + 1 : from;
  if (first >= to || to - first > 15) return undefined;
  let value = 0;
  for (let i = first; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/**
 * Asks BigQuery for the history below `request.anchors`. Nothing is asked
 * when nothing lies below them (the group never committed). Once it has
 * rejected, nothing more is added to `sink`: the other query, still under
 * way, stops at its next page.
 */
export async function loadHistory(
  warehouse: Warehouse,
  request: HistoryRequest,
  sink: HistorySink,
): Promise<History> {
  const { anchors, previous } = request;
  const full = previous === undefined;
  if (!anchors.some((anchor) => anchor.below > 0n)) {
    return { songs: 0, buckets: 0, queries: 0, full };
  }
  const maxFutureMs = request.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const clock = { now: request.now, maxFutureMs };
  const allTime = previous === undefined
    ? allTimeSql(warehouse.config, anchors, undefined, clock)
    : previous.since === undefined
    ? undefined
    : allTimeSql(
      warehouse.config,
      anchors,
      { anchors: previous.anchors, since: previous.since },
      clock,
    );
  const windowsQuery = windowsSql(
    warehouse.config,
    anchors,
    request.now,
    request.allowedLatenessMs,
    maxFutureMs,
  );
  // Both answers are read side by side, a page at a time, straight into the
  // sink: a catalog's answer is never held as rows, and BigQuery prepares
  // the next pages while these are counted.
  const added = { songs: 0, buckets: 0 };
  /** Room for the whole answer at once, estimated from its first page (`per`: songs in it). */
  const reserveFor = (per: number, rows: number, total: number | undefined, windows: boolean) => {
    if (rows === 0 || total === undefined || total <= rows) return;
    const songs = Math.ceil((per / rows) * total);
    sink.reserve?.(windows ? 0 : songs, windows ? songs : 0);
  };
  let firstAllTime = true;
  let firstWindows = true;
  // Once one query failed, the other adds nothing more: the caller sees the
  // failure and what the sink holds then, and must not be added to later.
  let failure: { error: unknown } | undefined;
  const stopOnFailure = (answer: Promise<void>) =>
    answer.catch((error) => {
      failure ??= { error };
      throw error;
    });
  const unlessFailed = () => {
    if (failure !== undefined) throw failure.error;
  };
  await Promise.all([
    allTime === undefined
      ? undefined
      : stopOnFailure(queryPages(warehouse, allTime, (rows, total) => {
        unlessFailed();
        const songs = mergeAllTime(sink, rows);
        added.songs += songs;
        if (firstAllTime) reserveFor(songs, rows.length, total, false);
        firstAllTime = false;
      }, HISTORY_PAGE)),
    stopOnFailure(queryPages(warehouse, windowsQuery, (rows, total) => {
      unlessFailed();
      const { buckets, songs } = addWindowRows(sink, rows, request.now);
      added.buckets += buckets;
      if (firstWindows) reserveFor(songs, rows.length, total, true);
      firstWindows = false;
    }, HISTORY_PAGE)),
  ]);
  return { ...added, queries: allTime === undefined ? 1 : 2, full };
}

/**
 * `counter` as the place BigQuery's history goes (see
 * {@linkcode HistorySink}); `touched` tells whether anything was added, so a
 * load that failed half way is known to have left part of it counted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedCounter } from "./history.ts";
 * import { createPlayCounter, windowStart } from "../counting/mod.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const counter = createPlayCounter({ now });
 * const sink = seedCounter(counter);
 * assert.equal(sink.touched, false);
 * // A bucket may come before its song's all time (which brings the name).
 * sink.addBucket("5m", "tony-allen", 1, windowStart("5m", now)! + 299_000, 2);
 * sink.add({ artist: "tony-allen", song_id: 1, song_name: "zombie", plays: 5, latestAt: now - 1_000 });
 * assert.equal(sink.touched, true);
 * assert.equal(counter.top("tony-allen", "all", 10, now).total, 5);
 * assert.deepEqual(counter.top("tony-allen", "5m", 10, now).songs, [{ song_id: 1, song_name: "zombie", plays: 2 }]);
 * ```
 */
export function seedCounter(counter: PlayCounter): HistorySink & { readonly touched: boolean } {
  let touched = false;
  return {
    add(song) {
      touched = true;
      counter.seedSong(song);
    },
    addBucket(window, artist, song_id, start, plays) {
      touched = true;
      counter.seedBucket(window, { artist, song_id }, start, plays);
    },
    reserve: (songs, windowSongs) => counter.reserve(songs, windowSongs),
    get touched() {
      return touched;
    },
  };
}
