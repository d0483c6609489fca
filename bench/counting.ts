/**
 * `counting`: how fast one dashboard process counts plays it reads from
 * Kafka, at a streaming service's catalog size, against `kcat -C` reading
 * the same topic in the same run.
 *
 * Two fresh topics are filled by producer.ts from its generated catalog
 * (100,000 artists of 10 songs, Zipf-like popularity) with event times
 * spread over the last 23 hours, so every play lands in every window: a
 * small one and a large one. The BigQuery table is empty and no group has
 * committed, so the dashboard reads each topic from its start. For each, the
 * time from spawn until `/healthz` says `live` (Kafka read to its end) is
 * measured, and the all-time plays it then shows must equal the topic's.
 * The counting rate is `(large − small) / (t_large − t_small)`: the process
 * start, BigQuery's (empty) answers and the group join cancel out. `kcat -C`
 * reads the large topic to its end, to /dev/null, in the same repetition
 * (alternating who goes first).
 *
 * The target for one dashboard process at catalog size is ≥ 0.25 ×
 * `kcat -C`.
 *
 * @module
 */

import { ensurePlaysTable } from "../shared/bigquery/mod.ts";
import { tail } from "../shared/launch/mod.ts";
import { allTimePlays, startDashboard } from "./dashboard.ts";
import { peakMb, sampleMemory } from "./proc_memory.ts";
import { fillTopic, kcat } from "./processes.ts";
import type { BenchResult, MeasuredReference } from "./report.ts";
import {
  benchWarehouse,
  dropTables,
  openAdmin,
  removeKafka,
  topicSize,
  uniqueName,
} from "./services.ts";
import { ratio, summarize } from "./stats.ts";

/** Options of {@linkcode benchCounting}. */
export interface CountingOptions {
  /** Plays in the small and in the large topic. */
  small: number;
  large: number;
  /** Artists of the producer's catalog (10 songs each). */
  artists: number;
  repetitions: number;
  log?: (line: string) => void;
}

/** Target: plays counted per second over `kcat -C`'s messages per second. */
export const COUNTING_RATIO = 0.25;

/** Spawn to `live` on `names`, checked complete; seconds and peak RSS. */
async function untilLive(
  names: { topic: string; table: string; view: string; group: string },
  plays: number,
): Promise<{ seconds: number; peakMb: number }> {
  let memory: ReturnType<typeof sampleMemory> | undefined;
  const started = performance.now();
  const dashboard = await startDashboard(names, {
    args: ["--reconcile-every", "0", "--reanchor-every", "0"],
    pollMs: 25,
    timeoutMs: 600_000,
    onSpawn: (child) => (memory = sampleMemory(child.pid, { intervalMs: 100, progress: () => 0 })),
  });
  const seconds = (performance.now() - started) / 1000;
  try {
    const counted = await allTimePlays(dashboard);
    if (counted !== plays) {
      throw new Error(
        `The dashboard went live with ${counted} of ${plays} plays:\n${
          tail(dashboard.child.lines)
        }`,
      );
    }
    const samples = await memory!.stop();
    const stopped = await dashboard.stop();
    if (stopped.code !== 0) {
      throw new Error(`dashboard.ts exited with ${stopped.code}:\n${tail(stopped.lines)}`);
    }
    return { seconds, peakMb: peakMb(samples) };
  } finally {
    await memory?.stop();
    await dashboard.stop();
  }
}

/** Runs the counting benchmark. */
export async function benchCounting(options: CountingOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const id = uniqueName("counting");
  const small = { topic: `${id}_s`, table: id, view: `${id}_top`, group: `${id}_g` };
  const large = { ...small, topic: `${id}_l` };
  const produce = [
    "--catalog-artists",
    String(options.artists),
    "--catalog-songs-per-artist",
    "10",
    "--spread",
    "23h",
  ];
  const admin = await openAdmin();
  const rates: number[] = [];
  const kcatRates: number[] = [];
  const runs: { small_s: number; large_s: number; peak_mb: number }[] = [];
  try {
    await ensurePlaysTable(benchWarehouse(id));
    for (const [names, plays] of [[small, options.small], [large, options.large]] as const) {
      await fillTopic(names.topic, plays, produce);
      const size = await topicSize(admin, names.topic);
      if (size !== plays) throw new Error(`${names.topic} holds ${size} plays, expected ${plays}`);
    }
    log(
      `counting: topics of ${options.small.toLocaleString("en")} and ${
        options.large.toLocaleString("en")
      } plays over ${(options.artists * 10).toLocaleString("en")} songs filled`,
    );
    for (let rep = 0; rep < options.repetitions; rep++) {
      const order = rep % 2 === 0 ? ["kcat", "ours"] : ["ours", "kcat"];
      for (const contender of order) {
        if (contender === "kcat") {
          const rate = await kcat(large.topic, options.large);
          kcatRates.push(rate);
          log(`counting #${rep + 1} kcat -C: ${Math.round(rate)} messages/s`);
          continue;
        }
        const a = await untilLive(small, options.small);
        const b = await untilLive(large, options.large);
        const rate = (options.large - options.small) / (b.seconds - a.seconds);
        rates.push(rate);
        runs.push({ small_s: a.seconds, large_s: b.seconds, peak_mb: b.peakMb });
        log(
          `counting #${rep + 1} ours: live in ${a.seconds.toFixed(2)} s / ${
            b.seconds.toFixed(2)
          } s, ${Math.round(rate)} plays/s, peak ${Math.round(b.peakMb)} MB`,
        );
      }
    }
  } finally {
    await removeKafka(admin, { topics: [small.topic, large.topic], groups: [small.group] });
    await admin.close();
    await dropTables([id]);
  }
  const ours = summarize(rates);
  const kcatSummary = summarize(kcatRates);
  const reference: MeasuredReference = {
    name: "kcat -C to /dev/null",
    ...kcatSummary,
    ratio: ratio(ours.median, kcatSummary.median),
  };
  return {
    id: "counting",
    what: `one dashboard process counting ${
      (options.large - options.small).toLocaleString("en")
    } plays read from Kafka over a catalog of ${
      (options.artists * 10).toLocaleString("en")
    } songs (Zipf-like, every play inside every window)`,
    unit: "plays/s",
    repetitions: options.repetitions,
    ours,
    reference,
    ratio: reference.ratio,
    references: [reference],
    target: `≥ ${COUNTING_RATIO} × kcat -C`,
    met: reference.ratio >= COUNTING_RATIO,
    method: "ours: dashboard.ts with its task's flags (64 MB heap) on an empty table, no commit, " +
      "spawn to /healthz live (asked every 25 ms) on the small and on the large topic, each " +
      "checked complete by its all-time plays; rate = (large − small) / (t_large − t_small). " +
      "Reference: kcat -C -e on the large topic to /dev/null, spawn to exit. Peak RSS: the " +
      "large start's max VmHWM.",
    details: {
      small: options.small,
      large: options.large,
      songs: options.artists * 10,
      per_repetition: { ours: runs, kcat: kcatRates },
      peak_rss_mb: summarize(runs.map((run) => run.peak_mb)),
    },
  };
}
