/**
 * `catalog`: the dashboard's counter at a streaming service's catalog size.
 * `bench/counter_memory.ts` counts N plays (1,000,000) spread over the last
 * 24 hours across a generated catalog of M songs (100,000; Zipf-like, the
 * producer's) in a process of its own, under the dashboard task's V8 flags
 * (its 64 MB heap, read from deno.json), and reports the time spent counting
 * (generating the plays left out), the peak V8 heap and the peak RSS
 * (`VmHWM`). The reference, run alternately in the same run, counts the same
 * plays into one all-time `Map` per song: the least any counter holds, so
 * the ratio says what the windows (every bucket of 5 minutes, 1 hour and 24
 * hours, with their previous periods) cost over that.
 *
 * The target is that the counter fits the dashboard's heap (a run that does
 * not dies with "Reached heap limit") and peaks at most 200 MB, the
 * target for the whole dashboard at catalog scale.
 *
 * @module
 */

import { tail } from "../shared/launch/mod.ts";
import type { CounterKind, CounterRun } from "./counter_memory.ts";
import { spawn } from "./processes.ts";
import type { BenchResult } from "./report.ts";
import { ratio, summarize } from "./stats.ts";

/** Options of {@linkcode benchCatalog}. */
export interface CatalogOptions {
  /** Songs in the generated catalog. */
  songs: number;
  /** Plays counted. */
  plays: number;
  repetitions: number;
  /**
   * Artists of the run that times `/api/overview` and `/api/artists` (10
   * songs each, as many plays as songs, under the same flags).
   */
  latencyArtists: number;
  log?: (line: string) => void;
}

/** Target: peak RSS of the counting process, MB. */
export const CATALOG_PEAK_LIMIT_MB = 200;
/** Targets of the list endpoints at 100,000 artists, ms. */
export const OVERVIEW_LIMIT_MS = 50;
export const ARTISTS_LIMIT_MS = 20;

/**
 * The `--v8-flags=…` argument of the dashboard task's command in deno.json's
 * text, so the counter runs under the heap the dashboard gets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardV8Flags } from "./catalog.ts";
 * const config = JSON.stringify({ tasks: { dashboard: {
 *   command: "deno run --v8-flags=--max-old-space-size=64 dashboard.ts",
 * } } });
 * assert.equal(dashboardV8Flags(config), "--v8-flags=--max-old-space-size=64");
 * assert.throws(() => dashboardV8Flags("{}"), /no dashboard task/);
 * ```
 */
export function dashboardV8Flags(denoJson: string): string {
  const config: unknown = JSON.parse(denoJson);
  const task = typeof config === "object" && config !== null
    ? Reflect.get(Reflect.get(config, "tasks") ?? {}, "dashboard")
    : undefined;
  const command = typeof task === "string"
    ? task
    : typeof task === "object" && task !== null
    ? Reflect.get(task, "command")
    : undefined;
  if (typeof command !== "string") {
    throw new Error("Cannot read the dashboard's V8 flags: deno.json has no dashboard task");
  }
  const flags = / (--v8-flags=\S+)/.exec(command)?.[1];
  if (flags === undefined) {
    throw new Error("Cannot read the dashboard's V8 flags: its task sets no --v8-flags");
  }
  return flags;
}

/**
 * The last line of `stdout` that parses as a {@linkcode CounterRun}, or
 * `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCounterRun } from "./catalog.ts";
 * const line = JSON.stringify({
 *   counter: "map", songs_in_catalog: 10, plays: 5, songs_played: 3, count_s: 0.1,
 *   plays_per_s: 50, peak_heap_mb: 4, peak_external_mb: 1, peak_rss_mb: 40,
 * });
 * assert.equal(parseCounterRun(`Check x\n${line}\n`)?.peak_rss_mb, 40);
 * assert.equal(parseCounterRun("Reached heap limit\n"), undefined);
 * ```
 */
export function parseCounterRun(stdout: string): CounterRun | undefined {
  for (const line of stdout.trim().split("\n").reverse()) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    const counter = Reflect.get(value, "counter");
    const number = (name: string): number => {
      const field = Reflect.get(value, name);
      return typeof field === "number" && Number.isFinite(field) ? field : NaN;
    };
    const run = {
      counter,
      songs_in_catalog: number("songs_in_catalog"),
      plays: number("plays"),
      songs_played: number("songs_played"),
      count_s: number("count_s"),
      plays_per_s: number("plays_per_s"),
      peak_heap_mb: number("peak_heap_mb"),
      peak_external_mb: number("peak_external_mb"),
      peak_rss_mb: number("peak_rss_mb"),
    };
    if (run.counter !== "windows" && run.counter !== "map") continue;
    if (Object.values(run).some((field) => Number.isNaN(field))) continue;
    const latency = Reflect.get(value, "latency_ms");
    const artists = number("artists");
    const lists = typeof latency === "object" && latency !== null
      ? {
        overview_1h: Number(Reflect.get(latency, "overview_1h")),
        overview_all: Number(Reflect.get(latency, "overview_all")),
        artists_page: Number(Reflect.get(latency, "artists_page")),
        artists_search: Number(Reflect.get(latency, "artists_search")),
        overview_cached: Number(Reflect.get(latency, "overview_cached")),
      }
      : undefined;
    const extra = lists !== undefined && Object.values(lists).every(Number.isFinite)
      ? { latency_ms: lists, ...(Number.isNaN(artists) ? {} : { artists }) }
      : {};
    return { ...run, counter: run.counter, ...extra };
  }
  return undefined;
}

async function countOnce(
  v8Flags: string,
  options: { songs: number; plays: number; songsPerArtist?: number },
  kind: CounterKind,
): Promise<CounterRun> {
  const child = spawn("deno", [
    "run",
    "--allow-env",
    "--allow-read",
    v8Flags,
    "bench/counter_memory.ts",
    String(options.songs),
    String(options.plays),
    kind,
    String(options.songsPerArtist ?? 50),
  ]);
  const exit = await child.done;
  const run = parseCounterRun(child.output("stdout"));
  if (exit.code !== 0 || run === undefined) {
    throw new Error(
      `The ${kind} counter did not finish (exit ${exit.code}):\n${tail(child.lines)}`,
    );
  }
  return run;
}

/** Runs the catalog benchmark. */
export async function benchCatalog(options: CatalogOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const v8Flags = dashboardV8Flags(await Deno.readTextFile("deno.json"));
  const ours: CounterRun[] = [];
  const reference: CounterRun[] = [];
  for (let rep = 0; rep < options.repetitions; rep++) {
    // Alternately, so that a change in the machine's load touches both.
    for (const [kind, runs] of [["windows", ours], ["map", reference]] as const) {
      const run = await countOnce(v8Flags, options, kind);
      runs.push(run);
      log(
        `catalog #${rep + 1} ${kind}: ${run.count_s} s to count ${run.plays} plays ` +
          `(${run.songs_played} songs played), peak heap ${run.peak_heap_mb} MB, ` +
          `outside the heap ${run.peak_external_mb} MB, ` +
          `peak RSS ${run.peak_rss_mb} MB`,
      );
    }
  }
  // The list endpoints at a service's number of artists, under the same heap.
  const wide = await countOnce(v8Flags, {
    songs: options.latencyArtists * 10,
    plays: options.latencyArtists * 10,
    songsPerArtist: 10,
  }, "windows");
  const lists = wide.latency_ms!;
  log(
    `catalog lists at ${wide.artists} artists: /api/overview 1h ${lists.overview_1h} ms, ` +
      `all ${lists.overview_all} ms, /api/artists page ${lists.artists_page} ms, ` +
      `search ${lists.artists_search} ms (each ordering afresh), ordered in the tick ` +
      `${lists.overview_cached} ms; ${wide.songs_played} songs played, peak heap ` +
      `${wide.peak_heap_mb} MB, RSS ${wide.peak_rss_mb} MB`,
  );
  const seconds = summarize(ours.map((run) => run.count_s));
  const referenceSeconds = summarize(reference.map((run) => run.count_s));
  const heap = summarize(ours.map((run) => run.peak_heap_mb));
  const external = summarize(ours.map((run) => run.peak_external_mb));
  const rss = summarize(ours.map((run) => run.peak_rss_mb));
  const referenceRss = summarize(reference.map((run) => run.peak_rss_mb));
  const measured = {
    name: "one all-time Map per song",
    ...referenceSeconds,
    ratio: ratio(seconds.median, referenceSeconds.median),
  };
  const label = (n: number) => n.toLocaleString("en");
  return {
    id: "catalog",
    what: `the dashboard's counter under its 64 MB heap: ${label(options.plays)} plays over ` +
      `24 h across ${label(options.songs)} songs (${label(ours[0]!.songs_played)} played); ` +
      `peak heap ${heap.median} MB (+ ${external.median} MB of buffers outside it), ` +
      `peak RSS ${rss.median} MB (the Map's ${referenceRss.median} MB); ` +
      `at ${label(wide.artists ?? 0)} artists /api/overview ${lists.overview_all} ms, ` +
      `/api/artists ${lists.artists_page} ms (ordered afresh; ${lists.overview_cached} ms ` +
      `within a tick)`,
    unit: "s",
    repetitions: options.repetitions,
    ours: seconds,
    reference: measured,
    ratio: measured.ratio,
    references: [measured],
    target: `fits the dashboard's heap; peak RSS ≤ ${CATALOG_PEAK_LIMIT_MB} MB; ` +
      `at ${label(options.latencyArtists)} artists /api/overview ≤ ${OVERVIEW_LIMIT_MS} ms, ` +
      `/api/artists ≤ ${ARTISTS_LIMIT_MS} ms`,
    met: rss.max <= CATALOG_PEAK_LIMIT_MB &&
      Math.max(lists.overview_1h, lists.overview_all) <= OVERVIEW_LIMIT_MS &&
      Math.max(lists.artists_page, lists.artists_search) <= ARTISTS_LIMIT_MS,
    method: "bench/counter_memory.ts in a process of its own with the dashboard task's V8 flags: " +
      "plays from the producer's generated catalog (Zipf-like, 50 songs an artist, event times " +
      "spread over 24 h) made in chunks of 10,000, only the counting timed (advance() after " +
      "each chunk); peak heap = largest heapUsed after a chunk (external, the typed arrays' " +
      "buffers, likewise), peak RSS = VmHWM at the end. " +
      "Reference, alternately in the same run: the same plays into one all-time Map per song. " +
      "Lists: one more run of the counter, 10 songs an artist, as many plays as songs, the " +
      "same flags; each list endpoint asked 15 times through the dashboard's handler " +
      "with its list ordered afresh each time (the dashboard orders at most once a second), " +
      "the median; and once more from the list ordered within the tick.",
    details: {
      songs: options.songs,
      plays: options.plays,
      v8_flags: v8Flags,
      peak_heap_mb: heap,
      peak_external_mb: external,
      peak_rss_mb: rss,
      reference_peak_heap_mb: summarize(reference.map((run) => run.peak_heap_mb)),
      reference_peak_external_mb: summarize(reference.map((run) => run.peak_external_mb)),
      reference_peak_rss_mb: referenceRss,
      per_repetition: { windows: ours, map: reference },
      lists: wide,
    },
  };
}
