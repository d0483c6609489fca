/**
 * `dashboard_start`: how long the dashboard takes to start, and its peak
 * resident memory, with N plays of history (100,000 and 1,000,000; also
 * 10,000,000 in the long run).
 *
 * For each size a fresh topic is filled with N plays (producer.ts) and the
 * consumer stores and commits them all (`--exit-when-idle`), as a running
 * pipeline would have. Then the dashboard is started several times on it,
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

import { tail } from "../shared/cli/tasks.ts";
import { startDashboard } from "./dashboard.ts";
import { peakMb, sampleMemory } from "./proc_memory.ts";
import { fillTopic, finish, spawnConsumer } from "./processes.ts";
import type { BenchResult, MeasuredReference } from "./report.ts";
import { committedCount, dropTables, openAdmin, removeKafka, uniqueName } from "./services.ts";
import { summarize, type Summary } from "./stats.ts";

/** Options of {@linkcode benchDashboardStart}. */
export interface DashboardStartOptions {
  /** History sizes, smallest first; the first is the reference, the second the one the target names. */
  sizes: number[];
  /** Starts per size. */
  starts: number;
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
  /** Seconds to fill the topic and have the consumer store it (setup, not measured). */
  setup_s: number;
}

async function oneStart(
  names: { topic: string; table: string; view: string; group: string },
  plays: number,
): Promise<{ seconds: number; liveAfterMs: number | null; peakMb: number }> {
  let memory: ReturnType<typeof sampleMemory> | undefined;
  const started = performance.now();
  const dashboard = await startDashboard(names, {
    args: ["--reconcile-every", "0", "--reanchor-every", "0"],
    pollMs: 25,
    timeoutMs: 120_000,
    onSpawn: (child) => (memory = sampleMemory(child.pid, { intervalMs: 100, progress: () => 0 })),
  });
  const seconds = (performance.now() - started) / 1000;
  try {
    const health = await dashboard.health();
    const response = await fetch(new URL("/api/artists", dashboard.url));
    const body: unknown = await response.json();
    const artists = typeof body === "object" && body !== null && "artists" in body &&
        Array.isArray(body.artists)
      ? body.artists
      : [];
    let counted = 0;
    for (const entry of artists) {
      if (typeof entry === "object" && entry !== null && typeof entry.plays === "number") {
        counted += entry.plays;
      }
    }
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

async function size(plays: number, starts: number, log: (line: string) => void) {
  const id = uniqueName("start");
  const names = { topic: id, table: id, view: `${id}_top`, group: `${id}_g` };
  const admin = await openAdmin();
  try {
    const setupStarted = performance.now();
    await fillTopic(names.topic, plays);
    const consumer = await spawnConsumer(names, ["--exit-when-idle", "3"]);
    await finish(consumer, "consumer.ts (storing the history)", 3_600_000);
    const committed = await committedCount(admin, names.group, names.topic);
    if (committed !== plays) {
      throw new Error(`The consumer committed ${committed} of ${plays} plays`);
    }
    const setup = Math.round((performance.now() - setupStarted) / 1000);
    log(`dashboard_start: ${plays.toLocaleString("en")} plays stored in ${setup} s`);
    const runs = [];
    for (let i = 0; i < starts; i++) {
      const run = await oneStart(names, plays);
      runs.push(run);
      log(
        `dashboard_start ${plays.toLocaleString("en")} #${i + 1}: live in ${
          run.seconds.toFixed(2)
        } s (own measure ${run.liveAfterMs} ms), peak ${run.peakMb} MB`,
      );
    }
    return {
      plays,
      start_s: summarize(runs.map((run) => Math.round(run.seconds * 1000) / 1000)),
      live_after_ms: runs.map((run) => run.liveAfterMs),
      peak_mb: summarize(runs.map((run) => run.peakMb)),
      setup_s: setup,
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
  for (const plays of options.sizes) figures.push(await size(plays, options.starts, log));
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
    method: "Per size: a fresh topic filled by producer.ts, stored and committed by consumer.ts; " +
      "then the dashboard started with its task's grants, timed from just before the spawn " +
      "(grants computed first) to /healthz state live (polled every 25 ms), all-time plays " +
      "checked equal to the size; peak = max VmHWM from spawn to 3 s after live.",
    details: { sizes: figures },
  };
}
