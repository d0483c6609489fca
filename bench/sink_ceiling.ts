/**
 * `sink_ceiling`: how fast the consumer's own code is when neither BigQuery
 * nor the broker is the limit. The consumer (exactly once, its defaults)
 * reads a pre-filled topic into a local Storage Write **stand-in that
 * acknowledges every append at once and stores nothing**
 * (`storage_standin.ts`, a bench instrument: it checks offsets like
 * BigQuery, keeps a row count per stream, nothing else); table lookups and
 * columns still come from the local BigQuery over REST. Reference, in the
 * same run on the same topic: `kcat -C` (librdkafka) reading every message
 * to `/dev/null`, and the consumer's Kafka input alone (`kafka_input.ts`:
 * kafkajs with the consumer's fetch settings and V8 flag, doing nothing with
 * what it reads), both timed from spawn to exit.
 *
 * Per run of ours: rows/s from the progress lines (as in `sink`), peak RSS
 * (`VmHWM`), and CPU-seconds per million rows over the same window (from
 * `/proc/<pid>/stat`, sampled every 250 ms). With a sweep, the consumer is
 * run once more per `--insert-concurrency`/`--batch-rows` pair, so the
 * figures say which settings matter once BigQuery answers at once.
 *
 * @module
 */

import { tail, taskRunArgs } from "../shared/launch/mod.ts";
import { type MemorySample, peakMb, sampleMemory } from "./proc_memory.ts";
import { fillTopic, finish, kcat, spawn, spawnConsumer } from "./processes.ts";
import type { BenchResult, MeasuredReference, Reference } from "./report.ts";
import { dropTables, openAdmin, removeKafka, topicSize, uniqueName } from "./services.ts";
import { insertedOf, progressRate } from "./sink.ts";
import { startStorageStandin, type StorageStandin } from "./storage_standin.ts";
import { ratio, significant, summarize } from "./stats.ts";

/** One setting of the sweep: appends in flight per partition and rows per append. */
export interface SweepPoint {
  concurrency: number;
  batchRows: number;
  /** V8 flags instead of the consume task's, when given. */
  v8Flags?: string;
}

/** Options of {@linkcode benchSinkCeiling}. */
export interface SinkCeilingOptions {
  events: number;
  repetitions: number;
  /** Settings to run once each after the repetitions (none: no sweep). */
  sweep: readonly SweepPoint[];
  log?: (line: string) => void;
}

/** What one consumer run measured. */
export interface CeilingRun {
  rowsPerSecond: number;
  /** CPU-seconds per million rows over the window the rate is taken on. */
  cpuSecondsPerMillion: number | null;
  /** CPU-seconds of the whole process (start-up and shutdown included). */
  cpuSecondsTotal: number | null;
  peakRssMb: number;
}

/**
 * CPU-seconds per million rows between the first sample showing progress
 * and the first showing all rows (`null` without two such samples with CPU
 * readings).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpuPerMillion } from "./sink_ceiling.ts";
 * const sample = (progress: number, cpuSeconds: number) =>
 *   ({ at: 0, progress, rssKb: 1, hwmKb: 1, cpuSeconds });
 * const samples = [sample(0, 1), sample(0.1, 2), sample(0.5, 4), sample(1, 6)];
 * assert.equal(cpuPerMillion(samples, 1_000_000), 4 / 0.9);
 * ```
 */
export function cpuPerMillion(samples: readonly MemorySample[], events: number): number | null {
  const first = samples.find((s) => s.progress > 0 && s.cpuSeconds !== undefined);
  const last = samples.find((s) => s.progress >= 1 && s.cpuSeconds !== undefined);
  if (first === undefined || last === undefined || last === first) return null;
  const rows = (last.progress - first.progress) * events;
  return ((last.cpuSeconds! - first.cpuSeconds!) * 1_000_000) / rows;
}

/**
 * A task's `deno run` arguments with its `--v8-flags=…` replaced by `flags`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withV8Flags } from "./sink_ceiling.ts";
 * assert.deepEqual(
 *   withV8Flags(["run", "--v8-flags=--max-semi-space-size=2", "consumer.ts"], "--optimize-for-size"),
 *   ["run", "--v8-flags=--optimize-for-size", "consumer.ts"],
 * );
 * ```
 */
export function withV8Flags(args: readonly string[], flags: string): string[] {
  return args.map((arg) => arg.startsWith("--v8-flags=") ? `--v8-flags=${flags}` : arg);
}

async function ours(
  topic: string,
  events: number,
  standin: StorageStandin,
  settings: string[],
  v8Flags?: string,
): Promise<CeilingRun> {
  const names = { topic, group: uniqueName("ceiling_g"), table: uniqueName("ceiling") };
  const rowsBefore = standin.counts.rows;
  let inserted = 0;
  try {
    const running = await spawnConsumer(names, [
      "--exit-when-idle",
      "1",
      "--storage-emulator-host",
      standin.address,
      ...settings,
    ], {
      env: { LIVECHARTS_PROGRESS_MS: "100" },
      keepLines: 100_000,
      ...(v8Flags === undefined ? {} : { permissions: (args) => withV8Flags(args, v8Flags) }),
      onLine: (line) => {
        inserted = insertedOf(line.text) ?? inserted;
      },
    });
    const memory = sampleMemory(running.pid, { progress: () => inserted / events });
    const lines = await finish(running, "consumer.ts", 900_000).finally(() => memory.stop());
    const summary = lines.find((line) => /Stopped: \d+ consumed/.test(line.text))?.text ?? "";
    const stored = Number(/(\d+) inserted/.exec(summary)?.[1]);
    const acknowledged = standin.counts.rows - rowsBefore;
    if (stored !== events || acknowledged !== events) {
      throw new Error(
        `consumer.ts inserted ${stored} rows and the stand-in acknowledged ${acknowledged}, ` +
          `expected ${events}:\n${tail(lines)}`,
      );
    }
    const rate = progressRate(lines, events);
    if (rate === undefined) throw new Error(`No progress lines from consumer.ts:\n${tail(lines)}`);
    const cpu = memory.samples.findLast((s) => s.cpuSeconds !== undefined)?.cpuSeconds;
    const perMillion = cpuPerMillion(memory.samples, events);
    return {
      rowsPerSecond: rate,
      cpuSecondsPerMillion: perMillion === null ? null : significant(perMillion),
      cpuSecondsTotal: cpu ?? null,
      peakRssMb: peakMb(memory.samples),
    };
  } finally {
    const admin = await openAdmin();
    try {
      await removeKafka(admin, { groups: [names.group] });
    } finally {
      await admin.close();
    }
    await dropTables([names.table]);
  }
}

/** Runs the sink_ceiling benchmark. */
export async function benchSinkCeiling(options: SinkCeilingOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const n = options.events;
  const standin = await startStorageStandin();
  const admin = await openAdmin();
  const topic = uniqueName("ceiling");
  const runs: CeilingRun[] = [];
  const kcatRates: number[] = [];
  const inputRates: number[] = [];
  const sweep: (SweepPoint & CeilingRun)[] = [];
  try {
    await fillTopic(topic, n);
    const size = await topicSize(admin, topic);
    if (size !== n) throw new Error(`The sink_ceiling topic holds ${size} events, expected ${n}`);
    for (let rep = 0; rep < options.repetitions; rep++) {
      // Alternate who goes first: the page cache and the broker warm up for both alike.
      const contenders = ["kcat", "input", "ours"];
      const order = [...contenders.slice(rep % 3), ...contenders.slice(0, rep % 3)];
      for (const contender of order) {
        if (contender === "kcat") {
          const rate = await kcat(topic, n);
          kcatRates.push(rate);
          log(`sink_ceiling #${rep + 1} kcat -C: ${Math.round(rate)} messages/s`);
        } else if (contender === "input") {
          const rate = await kafkaInput(topic, n);
          inputRates.push(rate);
          log(`sink_ceiling #${rep + 1} Kafka input alone: ${Math.round(rate)} messages/s`);
        } else {
          const run = await ours(topic, n, standin, []);
          runs.push(run);
          log(
            `sink_ceiling #${rep + 1} ours: ${Math.round(run.rowsPerSecond)} rows/s, ` +
              `${run.cpuSecondsPerMillion} CPU-s per million rows, peak ${run.peakRssMb} MB`,
          );
        }
      }
    }
    for (const point of options.sweep) {
      const run = await ours(topic, n, standin, [
        "--insert-concurrency",
        String(point.concurrency),
        "--batch-rows",
        String(point.batchRows),
      ], point.v8Flags);
      sweep.push({ ...point, ...run });
      log(
        `sink_ceiling sweep concurrency ${point.concurrency}, batch ${point.batchRows}` +
          `${point.v8Flags === undefined ? "" : `, V8 ${point.v8Flags}`}: ` +
          `${Math.round(run.rowsPerSecond)} rows/s, ${run.cpuSecondsPerMillion} CPU-s/M, ` +
          `peak ${run.peakRssMb} MB`,
      );
    }
  } finally {
    await removeKafka(admin, { topics: [topic, `${topic}.dlq`] });
    await admin.close();
    await standin.close();
  }
  const oursSummary = summarize(runs.map((run) => run.rowsPerSecond));
  const kcatSummary = summarize(kcatRates);
  const reference: MeasuredReference = {
    name: "kcat -C to /dev/null",
    ...kcatSummary,
    ratio: ratio(oursSummary.median, kcatSummary.median),
  };
  const inputSummary = summarize(inputRates);
  const cpu = runs.flatMap((run) => run.cpuSecondsPerMillion ?? []);
  const references: Reference[] = [reference, {
    name: "the consumer's Kafka input alone (kafkajs, nothing done with the messages)",
    ...inputSummary,
    ratio: ratio(oursSummary.median, inputSummary.median),
  }];
  return {
    id: "sink_ceiling",
    what: `livecharts consumer (exactly once, defaults), ${
      n.toLocaleString("en")
    } pre-filled events → a Storage Write stand-in that acknowledges at once and stores nothing`,
    unit: "rows/s",
    repetitions: options.repetitions,
    ours: oursSummary,
    reference,
    ratio: reference.ratio,
    references,
    target: "≥ 60k rows/s and ≥ 0.2 × kcat -C",
    met: oursSummary.median >= 60_000 && reference.ratio >= 0.2,
    method: "ours: consumer.ts (defaults, exactly once) with --storage-emulator-host pointing at " +
      "bench/storage_standin.ts, a bench instrument that acknowledges every append at once after " +
      "checking its offset and stores nothing (table metadata from the local BigQuery); rows/s " +
      "from progress lines every 100 ms, first insert to all N; CPU-seconds per million rows from " +
      "/proc/<pid>/stat over the same window; peak RSS = max VmHWM. Reference: kcat -C -e on the " +
      "same topic to /dev/null, spawn to exit; the consumer's Kafka input alone " +
      "(bench/kafka_input.ts: kafkajs with the consumer's fetch settings and V8 flag, nothing " +
      "done with the messages), spawn to exit. Sweep: the same run once per setting.",
    details: {
      events: n,
      per_repetition: { ours: runs, kcat: kcatRates, kafka_input: inputRates },
      cpu_seconds_per_million: cpu.length === 0 ? null : summarize(cpu),
      peak_rss_mb: summarize(runs.map((run) => run.peakRssMb)),
      sweep,
    },
  };
}

/**
 * Messages a second of the consumer's Kafka input alone reading `events`
 * messages of `topic` (`kafka_input.ts`) under the consume task's V8 flags,
 * spawn to exit.
 */
async function kafkaInput(topic: string, events: number): Promise<number> {
  const script = new URL("./kafka_input.ts", import.meta.url).pathname;
  const v8Flags = (await taskRunArgs(new URL("../", import.meta.url), "consume"))
    .filter((arg) => arg.startsWith("--v8-flags="));
  const started = performance.now();
  const lines = await finish(
    spawn("deno", [
      "run",
      "--allow-net=127.0.0.1:9092",
      "--allow-env",
      ...v8Flags,
      script,
      topic,
      String(events),
    ]),
    "kafka_input.ts",
    120_000,
  );
  const seconds = (performance.now() - started) / 1000;
  if (!lines.some((line) => line.text.includes(`"messages":`))) {
    throw new Error(`kafka_input.ts did not report its messages:\n${tail(lines)}`);
  }
  return events / seconds;
}
