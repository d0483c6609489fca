/**
 * `memory`: peak resident memory of the consumer and of the dashboard while
 * each processes N events (1,000,000 in the full run), and whether it stays
 * flat as the count grows.
 *
 * Each repetition fills a fresh topic with N events (producer.ts), then
 * starts the consumer (`--exit-when-idle`) and the dashboard on it at the
 * same time, with their tasks' permissions. `/proc/<pid>/status` of each
 * Deno process is read every 250 ms: the peak is the largest `VmHWM` (the
 * kernel's high-water mark), and the RSS at 25, 50, 75 and 100 % of the
 * events (consumer: rows inserted per its progress line; dashboard:
 * plays counted per `/healthz`) shows the trend. Flat means the RSS at 100 %
 * is at most 1.25 × the RSS at 25 %: what grows with the event count would
 * show as a 2–4 × growth over that range.
 *
 * @module
 */

import { tail } from "../shared/launch/mod.ts";
import { healthCounted, startDashboard } from "./dashboard.ts";
import { type MemorySample, peakMb, rssAtProgress, sampleMemory } from "./proc_memory.ts";
import { fillTopic, finish, spawnConsumer } from "./processes.ts";
import type { BenchResult } from "./report.ts";
import { insertedOf } from "./sink.ts";
import { dropTables, openAdmin, removeKafka, topicSize, uniqueName } from "./services.ts";
import { summarize } from "./stats.ts";

/** Options of {@linkcode benchMemory}. */
export interface MemoryBenchOptions {
  events: number;
  repetitions: number;
  log?: (line: string) => void;
}

/** Target: peak resident memory of each process, in MB. */
export const PEAK_LIMIT_MB = 150;
/** Largest RSS growth from 25 % to 100 % of the events still called flat. */
export const FLAT_GROWTH = 1.25;

const FRACTIONS = [0.25, 0.5, 0.75, 1];

/** Memory of one process in one repetition. */
export interface ProcessMemory {
  peak_mb: number;
  /** Largest RSS before its first event was stored (consumer) or read (dashboard): the cost of starting. */
  start_mb: number | null;
  /** RSS at 25, 50, 75 and 100 % of the events. */
  rss_mb_at: (number | null)[];
  flat: boolean;
}

/**
 * Whether RSS at 25…100 % of the events stays within {@linkcode FLAT_GROWTH}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isFlat } from "./memory.ts";
 * assert.equal(isFlat([80, 84, 83, 88]), true);
 * assert.equal(isFlat([60, 90, 120, 150]), false);
 * ```
 */
export function isFlat(rssAt: readonly (number | null | undefined)[]): boolean {
  const first = rssAt[0];
  const last = rssAt[rssAt.length - 1];
  if (typeof first !== "number" || typeof last !== "number") return false;
  return last <= first * FLAT_GROWTH;
}

async function repetition(
  events: number,
): Promise<{ consumer: ProcessMemory; dashboard: ProcessMemory }> {
  const topic = uniqueName("memory");
  const table = uniqueName("memory");
  const group = uniqueName("memory_g");
  const view = `${table}_top`;
  const admin = await openAdmin();
  try {
    await fillTopic(topic, events);
    const size = await topicSize(admin, topic);
    if (size !== events) {
      throw new Error(`The memory topic holds ${size} events, expected ${events}`);
    }

    let inserted = 0;
    let counted = 0;
    const consumer = await spawnConsumer({ topic, group, table }, ["--exit-when-idle", "2"], {
      env: { LIVECHARTS_PROGRESS_MS: "250" },
      onLine: (line) => {
        inserted = insertedOf(line.text) ?? inserted;
      },
    });
    const consumerMemory = sampleMemory(consumer.pid, { progress: () => inserted / events });
    const dashboard = await startDashboard({ topic, table, view, group: `${group}_dash` }, {
      args: ["--reconcile-every", "0"],
      until: "serving",
    });
    const dashboardMemory = sampleMemory(dashboard.child.pid, { progress: () => counted / events });
    try {
      const until = Date.now() + 1_800_000;
      // Counted, not only read from Kafka: the dashboard's group has no
      // commits, so it anchors on what the table holds when it starts, and
      // the consumer may have stored some of the topic by then.
      while (counted < events && Date.now() < until) {
        counted = healthCounted(await dashboard.health());
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      if (counted < events) throw new Error(`The dashboard counted ${counted} of ${events} events`);
      // A few more samples once the dashboard is idle.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await finish(consumer, "consumer.ts", 1_800_000);
      if (inserted < events * 0.999) {
        throw new Error(`The consumer inserted ${inserted} of ${events}:\n${tail(consumer.lines)}`);
      }
    } finally {
      await consumer.stop();
      await dashboardMemory.stop();
      await dashboard.stop();
      await consumerMemory.stop();
    }
    return {
      consumer: describe(consumerMemory.samples),
      dashboard: describe(dashboardMemory.samples),
    };
  } finally {
    await removeKafka(admin, { topics: [topic, `${topic}.dlq`], groups: [group] });
    await admin.close();
    await dropTables([view, table]);
  }
}

function describe(samples: Parameters<typeof peakMb>[0]): ProcessMemory {
  const rssAt = rssAtProgress(samples, FRACTIONS).map((mb) => mb ?? null);
  return {
    peak_mb: peakMb(samples),
    start_mb: startMb(samples),
    rss_mb_at: rssAt,
    flat: isFlat(rssAt),
  };
}

/**
 * Largest RSS (MB) of the samples taken before any progress, or null when
 * none was: what the process needs before it has handled a single event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startMb } from "./memory.ts";
 * const samples = [0, 0, 0.1].map((progress, i) => ({
 *   at: i, progress, rssKb: 100_000 + i * 10_000, hwmKb: 130_000,
 * }));
 * assert.equal(startMb(samples), 112.64);
 * assert.equal(startMb(samples.slice(2)), null);
 * ```
 */
export function startMb(samples: readonly MemorySample[]): number | null {
  const before = samples.filter((sample) => sample.progress === 0);
  if (before.length === 0) return null;
  return Math.round(Math.max(...before.map((sample) => sample.rssKb)) * 1.024) / 1000;
}

/** Runs the memory benchmark. */
export async function benchMemory(options: MemoryBenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const reps: { consumer: ProcessMemory; dashboard: ProcessMemory }[] = [];
  for (let rep = 0; rep < options.repetitions; rep++) {
    const result = await repetition(options.events);
    reps.push(result);
    for (const [name, memory] of Object.entries(result)) {
      log(
        `memory #${
          rep + 1
        } ${name}: peak ${memory.peak_mb} MB, before its first event ${memory.start_mb} MB, RSS at 25/50/75/100 %: ${
          memory.rss_mb_at.join(" / ")
        } MB${memory.flat ? " (flat)" : " (growing)"}`,
      );
    }
  }
  const consumer = summarize(reps.map((r) => r.consumer.peak_mb));
  const dashboard = summarize(reps.map((r) => r.dashboard.peak_mb));
  const worse = summarize(reps.map((r) => Math.max(r.consumer.peak_mb, r.dashboard.peak_mb)));
  const flat = reps.every((r) => r.consumer.flat && r.dashboard.flat);
  return {
    id: "memory",
    what: `peak RSS of consumer and dashboard (the larger) over ${
      options.events.toLocaleString("en")
    } events`,
    unit: "MB",
    repetitions: options.repetitions,
    ours: worse,
    reference: null,
    ratio: null,
    references: [],
    target: `< ${PEAK_LIMIT_MB} MB each, flat`,
    met: consumer.median < PEAK_LIMIT_MB && dashboard.median < PEAK_LIMIT_MB && flat,
    method: "/proc/<pid>/status every 250 ms: peak = max VmHWM; RSS at 25/50/75/100 % of the " +
      `events; flat = RSS at 100 % ≤ ${FLAT_GROWTH} × RSS at 25 %; start = largest RSS before ` +
      "the first event was stored (consumer) or read (dashboard). Both processes run together " +
      "on a pre-filled topic.",
    details: {
      events: options.events,
      consumer: { peak_mb: consumer, per_repetition: reps.map((r) => r.consumer) },
      dashboard: { peak_mb: dashboard, per_repetition: reps.map((r) => r.dashboard) },
    },
  };
}
