/**
 * `dashboard_start`: how long the dashboard takes to start, and its peak
 * resident memory, with N plays of history (100,000 and 1,000,000; also
 * 10,000,000 in the long run).
 *
 * For each size a fresh topic is filled with N plays (producer.ts), the
 * BigQuery consumer's group is committed at the topic's end (read to the
 * end, committing each batch), and BigQuery gets one row for each of those
 * offsets: the state a consumer that stored them all leaves behind. The rows
 * are written by `INSERT … SELECT` of generated plays (the catalog's artists
 * and songs, skewed popularity, event times spread as if played at 1,000 a
 * second), because the local emulator rewrites its table on every streamed
 * write: storing a million rows through the consumer would take hours here,
 * and the dashboard never reads those records from Kafka anyway (they are
 * below the committed offsets). Then the dashboard is started several times on it,
 * with its task's permissions. Start time runs from just before the process
 * is spawned (the task's grants are computed first, as `deno task dashboard`
 * does) until `/healthz` says `live` (asked every 25 ms): BigQuery's history
 * loaded and Kafka read to its end. The numbers are then checked complete:
 * the all-time plays over every artist must be N. Memory is the largest
 * `VmHWM` of the process from spawn until 3 s after it went live.
 *
 * The target is a start in at most 5 s at 1 M plays and at most twice the
 * 100 k start (the 100 k start is the reference, measured in the same run),
 * and at most 150 MB at every size.
 *
 * @module
 */

import { ensurePlaysTable, playsTableRef, query, queryPages } from "../shared/bigquery/mod.ts";
import { allTimeSql, HISTORY_PAGE, windowsSql } from "../shared/live/feed/history.ts";
import { LONGEST_WINDOW_MS } from "../shared/live/counting/mod.ts";
import { tail } from "../shared/launch/mod.ts";
import { installKafkaPatches, readToEnd } from "../shared/kafka/mod.ts";
import { buildCatalog } from "../shared/produce/catalog.ts";
import { allTimePlays, startDashboard } from "./dashboard.ts";
import { peakMb, sampleMemory } from "./proc_memory.ts";
import { fillTopic } from "./processes.ts";
import type { BenchResult, MeasuredReference } from "./report.ts";
import {
  benchKafka,
  benchWarehouse,
  committedCount,
  dropTables,
  openAdmin,
  removeKafka,
  uniqueName,
} from "./services.ts";
import { summarize, type Summary } from "./stats.ts";

/** Options of {@linkcode benchDashboardStart}. */
export interface DashboardStartOptions {
  /** History sizes, smallest first; the first is the reference, the second the one the target names. */
  sizes: number[];
  /** Starts per size. */
  starts: number;
  /**
   * A catalog of this many distinct songs (10 an artist, every offset the
   * next song) instead of the simulator's; by hand only (see the module's end).
   */
  distinctSongs?: number;
  log?: (line: string) => void;
}

/** Target: start at 1 M plays of history, in seconds. */
export const START_LIMIT_S = 5;
/** Target: the 1 M start over the 100 k start. */
export const START_GROWTH = 2;
/** Target: peak resident memory at any size, in MB. */
export const START_PEAK_LIMIT_MB = 150;

/** Figures of one size. */
export interface SizeFigures {
  plays: number;
  /** Process start to `live`, per start (s). */
  start_s: Summary;
  /** The dashboard's own measure: its process start to `live` (ms), per start. */
  live_after_ms: (number | null)[];
  peak_mb: Summary;
  /** Seconds to fill the topic, commit it and write BigQuery's rows (setup, not measured). */
  setup_s: number;
  /** `catalog_start`: BigQuery's two answers read, a page at a time, doing nothing with them (s). */
  answers_s?: Summary;
  /** `catalog_start`: one start of a dashboard sharded to each share of the partitions. */
  shards?: ShardStart[];
}

/** One start of a dashboard given `--only-partitions`. */
export interface ShardStart {
  partitions: number[];
  /** Plays (here distinct songs) below the anchors of those partitions. */
  plays: number;
  start_s: number;
  peak_mb: number;
}

/** Rows per `INSERT … SELECT` (the emulator builds each in memory). */
const INSERT_ROWS = 1_000_000;

/**
 * How plays fall over a catalog: by default each play is the next song,
 * over `plays / 1000` seconds; `skew` instead picks song `⌊songs · u^skew⌋`
 * for a uniform `u` (a long tail: skew 4 gives a popularity falling like
 * rank^-0.75), over `spanMs` before now.
 */
export interface HistoryShape {
  spanMs: number;
  skew?: number;
}

/**
 * Like {@linkcode writeHistory}, over a catalog of `songs` distinct songs
 * (artist `artist-N` has songs 1 to 10), shaped by `shape`: by default,
 * offset after offset, partition after partition, each play is the next song.
 */
async function writeCatalogHistory(
  warehouse: ReturnType<typeof benchWarehouse>,
  ends: ReadonlyMap<number, bigint>,
  plays: number,
  songs: number,
  shape: HistoryShape = { spanMs: Math.max(60_000, plays) }, // 1,000 plays a second
): Promise<void> {
  const now = Date.now();
  const spanMs = shape.spanMs;
  /** SQL of the song of offset `x`, the partitions before holding `base` plays. */
  const songOf = (base: bigint) =>
    shape.skew === undefined
      ? `MOD(x + ${base}, ${songs})`
      : `CAST(FLOOR(POW(RAND(), ${shape.skew}) * ${songs}) AS INT64)`;
  let base = 0n;
  for (const [partition, end] of [...ends].sort(([a], [b]) => a - b)) {
    for (let from = 0n; from < end; from += BigInt(INSERT_ROWS)) {
      const to = from + BigInt(INSERT_ROWS) < end ? from + BigInt(INSERT_ROWS) : end;
      await query(
        warehouse,
        `INSERT INTO ${playsTableRef(warehouse.config)}
          (event_id, user_id, artist, song_id, song_name, event_type, timestamp, ingested_at,
           kafka_partition, kafka_offset)
        SELECT GENERATE_UUID(), 1, CONCAT('artist-', CAST(DIV(o.k, 10) AS STRING)),
          MOD(o.k, 10) + 1, CONCAT('song-', CAST(o.k AS STRING)), 'song_completed',
          TIMESTAMP_MILLIS(${now} - o.age_ms), CURRENT_TIMESTAMP(), ${partition}, o.kafka_offset
        FROM (
          SELECT x AS kafka_offset, ${songOf(base)} AS k,
            CAST(FLOOR(RAND() * ${spanMs}) AS INT64) AS age_ms
          FROM UNNEST(GENERATE_ARRAY(${from}, ${to - 1n})) AS x
        ) AS o`,
      );
    }
    base += end;
  }
}

/**
 * Writes one generated play for each offset below `ends` (per partition) to
 * `table`: the catalog's songs with skewed popularity, event times spread
 * over `plays / 1000` seconds before now.
 */
async function writeHistory(
  table: string,
  ends: ReadonlyMap<number, bigint>,
  plays: number,
  distinctSongs?: number,
  shape?: HistoryShape,
): Promise<void> {
  const warehouse = benchWarehouse(table);
  await ensurePlaysTable(warehouse);
  if (distinctSongs !== undefined) {
    await writeCatalogHistory(warehouse, ends, plays, distinctSongs, shape);
    return;
  }
  const songs = buildCatalog().flatMap((artist) =>
    artist.songs.map((song) => ({ artist: artist.slug, ...song }))
  );
  const catalog = songs.map((song, i) =>
    `SELECT ${i} AS k, '${song.artist}' AS artist, ${song.song_id} AS song_id, '${song.song_name}' AS song_name`
  ).join(" UNION ALL ");
  const now = Date.now();
  const spanMs = Math.max(60_000, plays); // 1,000 plays a second
  for (const [partition, end] of ends) {
    for (let from = 0n; from < end; from += BigInt(INSERT_ROWS)) {
      const to = from + BigInt(INSERT_ROWS) < end ? from + BigInt(INSERT_ROWS) : end;
      await query(
        warehouse,
        `INSERT INTO ${playsTableRef(warehouse.config)}
          (event_id, user_id, artist, song_id, song_name, event_type, timestamp, ingested_at,
           kafka_partition, kafka_offset)
        SELECT GENERATE_UUID(), 1 + CAST(FLOOR(RAND() * 10000) AS INT64), s.artist, s.song_id,
          s.song_name, 'song_completed', TIMESTAMP_MILLIS(${now} - o.age_ms), CURRENT_TIMESTAMP(),
          ${partition}, o.kafka_offset
        FROM (
          SELECT x AS kafka_offset, CAST(FLOOR(POW(RAND(), 2) * ${songs.length}) AS INT64) AS k,
            CAST(FLOOR(RAND() * ${spanMs}) AS INT64) AS age_ms
          FROM UNNEST(GENERATE_ARRAY(${from}, ${to - 1n})) AS x
        ) AS o
        JOIN (${catalog}) AS s ON s.k = o.k`,
      );
    }
  }
}

async function oneStart(
  names: { topic: string; table: string; view: string; group: string },
  plays: number,
  timeoutMs = 120_000,
  args: readonly string[] = [],
): Promise<{ seconds: number; liveAfterMs: number | null; peakMb: number }> {
  let memory: ReturnType<typeof sampleMemory> | undefined;
  const started = performance.now();
  const dashboard = await startDashboard(names, {
    args: ["--reconcile-every", "0", "--reanchor-every", "0", ...args],
    pollMs: 25,
    timeoutMs,
    onSpawn: (child) => (memory = sampleMemory(child.pid, { intervalMs: 100, progress: () => 0 })),
  });
  const seconds = (performance.now() - started) / 1000;
  try {
    const health = await dashboard.health();
    const counted = await allTimePlays(dashboard);
    if (counted !== plays) {
      throw new Error(
        `The dashboard went live with ${counted} of ${plays} plays:\n${
          tail(dashboard.child.lines)
        }`,
      );
    }
    // Idle serving for a moment: the peak must include what follows going live.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const liveAfter = health.live_after_ms;
    const samples = await memory!.stop();
    const stopped = await dashboard.stop();
    if (stopped.code !== 0) {
      throw new Error(`dashboard.ts exited with ${stopped.code}:\n${tail(stopped.lines)}`);
    }
    return {
      seconds,
      liveAfterMs: typeof liveAfter === "number" ? liveAfter : null,
      peakMb: peakMb(samples),
    };
  } finally {
    await memory?.stop();
    await dashboard.stop(); // again after a failure; a no-op once it exited
  }
}

/**
 * Fills `names.topic` with `plays` plays, commits `names.group` at its end
 * (as a consumer that stored them all) and writes BigQuery's rows for those
 * offsets to `names.table` (see {@linkcode writeHistory}): the state a
 * dashboard starts on. Returns the partitions' ranges.
 */
export async function setUpHistory(
  names: { topic: string; table: string; group: string },
  plays: number,
  distinctSongs?: number,
  shape?: HistoryShape,
): Promise<{ partition: number; end: bigint }[]> {
  await fillTopic(names.topic, plays);
  const ranges = await readToEnd(benchKafka(), {
    topic: names.topic,
    groupId: names.group,
    commit: true,
    onBatch: () => Promise.resolve(),
  });
  const admin = await openAdmin();
  try {
    const committed = await committedCount(admin, names.group, names.topic);
    if (committed !== plays) throw new Error(`Committed ${committed} of ${plays} plays`);
  } finally {
    await admin.close();
  }
  await writeHistory(
    names.table,
    new Map(ranges.map((r) => [r.partition, r.end])),
    plays,
    distinctSongs,
    shape,
  );
  return ranges;
}

async function size(
  plays: number,
  starts: number,
  log: (line: string) => void,
  distinctSongs?: number,
  reference?: (table: string, ends: ReadonlyMap<number, bigint>) => Promise<number>,
  shape?: HistoryShape,
  shares: readonly (readonly number[])[] = [],
) {
  const id = uniqueName("start");
  const names = { topic: id, table: id, view: `${id}_top`, group: `${id}_g` };
  const admin = await openAdmin();
  try {
    const setupStarted = performance.now();
    const ranges = await setUpHistory(names, plays, distinctSongs, shape);
    const setup = Math.round((performance.now() - setupStarted) / 1000);
    log(`dashboard_start: ${plays.toLocaleString("en")} plays of history set up in ${setup} s`);
    const runs = [];
    const answers: number[] = [];
    for (let i = 0; i < starts; i++) {
      if (reference !== undefined) {
        answers.push(
          await reference(names.table, new Map(ranges.map((r) => [r.partition, r.end]))),
        );
        log(`catalog_start #${i + 1}: BigQuery's answers read in ${answers.at(-1)!.toFixed(2)} s`);
      }
      // A catalog's history takes the local BigQuery minutes to page through.
      const run = await oneStart(names, plays, distinctSongs === undefined ? 120_000 : 900_000);
      runs.push(run);
      log(
        `dashboard_start ${plays.toLocaleString("en")} #${i + 1}: live in ${
          run.seconds.toFixed(2)
        } s (own measure ${run.liveAfterMs} ms), peak ${run.peakMb} MB`,
      );
    }
    const shards: ShardStart[] = [];
    for (const share of shares) {
      const own = ranges.filter((r) => share.includes(r.partition));
      const sharePlays = own.reduce((sum, r) => sum + Number(r.end), 0);
      const run = await oneStart(names, sharePlays, 900_000, [
        "--only-partitions",
        share.join(","),
      ]);
      shards.push({
        partitions: [...share],
        plays: sharePlays,
        start_s: Math.round(run.seconds * 1000) / 1000,
        peak_mb: run.peakMb,
      });
      log(
        `catalog_start shard of partitions ${share.join(",")} (${sharePlays} plays): live in ${
          run.seconds.toFixed(2)
        } s, peak ${run.peakMb} MB`,
      );
    }
    return {
      plays,
      start_s: summarize(runs.map((run) => Math.round(run.seconds * 1000) / 1000)),
      live_after_ms: runs.map((run) => run.liveAfterMs),
      peak_mb: summarize(runs.map((run) => run.peakMb)),
      setup_s: setup,
      ...(answers.length === 0 ? {} : { answers_s: summarize(answers) }),
      ...(shards.length === 0 ? {} : { shards }),
    } satisfies SizeFigures;
  } finally {
    await removeKafka(admin, {
      topics: [names.topic, `${names.topic}.dlq`],
      groups: [names.group],
    });
    await admin.close();
    await dropTables([names.view, names.table]);
  }
}

function label(plays: number): string {
  return plays >= 1_000_000 ? `${plays / 1_000_000} M` : `${plays / 1_000} k`;
}

/** Runs the benchmark. */
export async function benchDashboardStart(options: DashboardStartOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const figures: SizeFigures[] = [];
  for (const plays of options.sizes) {
    figures.push(await size(plays, options.starts, log, options.distinctSongs));
  }
  const [base, target] = [figures[0]!, figures[1] ?? figures[0]!];
  const references: MeasuredReference[] = figures.filter((f) => f !== target).map((f) => ({
    name: `start at ${label(f.plays)} plays`,
    ...f.start_s,
    ratio: Math.round((target.start_s.median / f.start_s.median) * 100) / 100,
  }));
  const ratio = Math.round((target.start_s.median / base.start_s.median) * 100) / 100;
  const peak = Math.max(...figures.map((f) => f.peak_mb.max));
  return {
    id: "dashboard_start",
    what: `dashboard start (process start → /healthz live, complete numbers) with ${
      label(target.plays)
    } plays of history; peak RSS at ${figures.map((f) => label(f.plays)).join(", ")}: ${
      figures.map((f) => `${f.peak_mb.max} MB`).join(", ")
    }`,
    unit: "s",
    repetitions: options.starts,
    ours: target.start_s,
    reference: references.find((r) => r.name.includes(label(base.plays))) ?? null,
    ratio: base === target ? null : ratio,
    references,
    target: `≤ ${START_LIMIT_S} s at ${label(target.plays)}, ≤ ${START_GROWTH} × the ${
      label(base.plays)
    } start; peak ≤ ${START_PEAK_LIMIT_MB} MB at every size`,
    met: target.start_s.median <= START_LIMIT_S &&
      (base === target || ratio <= START_GROWTH) && peak <= START_PEAK_LIMIT_MB,
    method: "Per size: a fresh topic filled by producer.ts, the consumer group committed at its " +
      "end, one BigQuery row per offset below it (INSERT … SELECT of generated plays: the " +
      "emulator's streamed writes are too slow for millions of rows); then the dashboard " +
      "started with its task's grants, timed from just before the spawn " +
      "(grants computed first) to /healthz state live (polled every 25 ms), all-time plays " +
      "checked equal to the size; peak = max VmHWM from spawn to 3 s after live.",
    details: { sizes: figures },
  };
}

/** `catalog_start` targets: start in seconds, peak RSS in MB. */
export const CATALOG_START_LIMIT_S = 10;
export const CATALOG_START_PEAK_LIMIT_MB = 200;

/**
 * Reads the two answers the dashboard asks for at start (its own SQL, below
 * the committed offsets `ends`), side by side, a page at a time of the
 * dashboard's size, and does nothing with them: how long BigQuery takes to
 * send the history, in seconds.
 */
async function readAnswers(table: string, ends: ReadonlyMap<number, bigint>): Promise<number> {
  const warehouse = benchWarehouse(table);
  const anchors = [...ends].map(([partition, end]) => ({ partition, below: end, start: end, end }));
  const now = Date.now();
  const started = performance.now();
  let rows = 0;
  await Promise.all(
    [
      allTimeSql(warehouse.config, anchors),
      windowsSql(warehouse.config, anchors, now, LONGEST_WINDOW_MS),
    ]
      .map((sql) => queryPages(warehouse, sql, (page) => (rows += page.length), HISTORY_PAGE)),
  );
  if (rows === 0) throw new Error("BigQuery answered no history");
  return (performance.now() - started) / 1000;
}

/** A catalog start's row: `figures` of the starts against BigQuery's answers read alone. */
function catalogStartRow(
  id: string,
  what: string,
  figures: SizeFigures,
  starts: number,
  method: string,
): BenchResult {
  const reference = figures.answers_s!;
  const ratio = Math.round((figures.start_s.median / reference.median) * 100) / 100;
  const measured: MeasuredReference = {
    name: "BigQuery's two answers read, nothing done with them",
    ...reference,
    ratio,
  };
  return {
    id,
    what: `dashboard start (process start → /healthz live, complete numbers) on ${what}; ` +
      `peak RSS ${figures.peak_mb.max} MB`,
    unit: "s",
    repetitions: starts,
    ours: figures.start_s,
    reference: measured,
    ratio,
    references: [measured],
    target: `≤ ${CATALOG_START_LIMIT_S} s, peak ≤ ${CATALOG_START_PEAK_LIMIT_MB} MB`,
    met: figures.start_s.median <= CATALOG_START_LIMIT_S &&
      figures.peak_mb.max <= CATALOG_START_PEAK_LIMIT_MB,
    method,
    details: { sizes: [figures] },
  };
}

/** Options of {@linkcode benchCatalogStart}. */
export interface CatalogStartOptions {
  /** Distinct songs (10 an artist), one play each, all inside the windows. */
  songs: number;
  starts: number;
  log?: (line: string) => void;
}

/**
 * `catalog_start`: the dashboard's start on a catalog's history, a play of
 * each of `songs` distinct songs (100,000 artists at a million songs), all
 * inside the windows, against the time BigQuery takes to send the same two
 * answers to a reader that does nothing with them (measured in the same run,
 * before each start).
 */
export async function benchCatalogStart(options: CatalogStartOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const figures = await size(
    options.songs,
    options.starts,
    log,
    options.songs,
    readAnswers,
    undefined,
    [[0], [1, 2]],
  );
  return catalogStartRow(
    "catalog_start",
    `${label(options.songs)} distinct songs of ${
      (options.songs / 10).toLocaleString("en")
    } artists, a play each inside the windows`,
    figures,
    options.starts,
    "As dashboard_start, with one play of each distinct song (artist-N has songs 1 to " +
      "10, event times spread over the last songs/1,000 seconds); before each start the " +
      "dashboard's two history queries (its own SQL, below the committed offsets) are run and " +
      "paged side by side, 2,000 rows a page, by a reader that keeps nothing: the reference. " +
      "After the starts, one start each of a dashboard sharded to partition 0 and to " +
      "partitions 1,2 (--only-partitions; the topic has 3), its all-time plays checked equal " +
      "to its partitions' (details.sizes[0].shards).",
  );
}

/** Options of {@linkcode benchCatalogDayStart}. */
export interface CatalogDayStartOptions {
  /** Plays of history, spread over the last 24 hours. */
  plays: number;
  /** Distinct songs of the catalog (10 an artist). */
  songs: number;
  /** The long tail's exponent: song ⌊U^skew · songs⌋ for U uniform in [0, 1). */
  skew: number;
  starts: number;
  log?: (line: string) => void;
}

/**
 * `catalog_day_start`: the dashboard's start on a day of a catalog's plays
 * (10 M plays over the last 24 hours, 1 M songs of 100,000 artists, a long
 * tail), against the time BigQuery takes to
 * send the same two answers to a reader that does nothing with them
 * (measured in the same run, before each start).
 */
export async function benchCatalogDayStart(options: CatalogDayStartOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const shape = { spanMs: 24 * 3_600_000, skew: options.skew };
  const figures = await size(
    options.plays,
    options.starts,
    log,
    options.songs,
    readAnswers,
    shape,
  );
  return catalogStartRow(
    "catalog_day_start",
    `${label(options.plays)} plays over the last 24 h of ${label(options.songs)} songs of ${
      (options.songs / 10).toLocaleString("en")
    } artists, long tail`,
    figures,
    options.starts,
    "As catalog_start, with the plays' songs drawn with a long tail (song " +
      `⌊U^${options.skew} · songs⌋, U uniform: at skew 4 the most played of 1 M songs gets ` +
      "3 % of the plays, the top 6.25 % of songs half of them) and event times uniform over " +
      "the last 24 hours, so the windows hold many buckets per song; the reference is again " +
      "the dashboard's two history queries paged side by side by a reader that keeps nothing, " +
      "before each start.",
  );
}

// By hand: `deno run -A bench/dashboard_start.ts PLAYS SONGS [HOURS SKEW]`
// starts the dashboard once on PLAYS plays of history over SONGS distinct
// songs (needs `deno task up`) and prints its start, its peak memory and, as
// the reference, how long BigQuery takes to send the two answers; with HOURS
// and SKEW, the plays are spread over that many hours with a long tail (see
// HistoryShape), e.g. `10000000 1000000 24 4`.
if (import.meta.main) {
  installKafkaPatches();
  const [plays, songs] = [Number(Deno.args[0] ?? 1_000_000), Number(Deno.args[1] ?? 1_000_000)];
  const hours = Deno.args[2] === undefined ? undefined : Number(Deno.args[2]);
  const shape = hours === undefined
    ? undefined
    : { spanMs: hours * 3_600_000, skew: Number(Deno.args[3] ?? 4) };
  const log = (line: string) => console.error(line);
  const figures = await size(plays, 1, log, songs, readAnswers, shape);
  console.log(JSON.stringify(figures));
}
