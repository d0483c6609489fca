/**
 * `sink`: rows/s of the livecharts consumer from a pre-filled topic into
 * the local BigQuery until caught up (exactly once, its defaults), against
 * (a) the raw append rate of the same local BigQuery, measured in the same
 * run at the same table size, and (b) a consumer written the tutorial's way
 * (one insert per message, auto-commit).
 *
 * Each repetition fills a fresh 3-partition topic with N events (producer.ts)
 * and gives every contender its own new table (and group), so each writes N
 * rows into a table growing from 0 to N (the local BigQuery slows as a table
 * grows):
 * - ours: consumer.ts with the consume task's permissions and its default
 *   settings, `--exit-when-idle`; it prints its progress line every 100 ms
 *   (`LIVECHARTS_PROGRESS_MS`) and the rate is the rows inserted between the
 *   first line showing an insert and the first showing all N, over that time
 *   (start-up and group join excluded, like the other contenders');
 * - (a) the same N rows appended with the Storage Write API by a plain loop
 *   without Kafka: one COMMITTED stream per partition, appends of the
 *   consumer's default `--batch-rows` at explicit offsets, its default
 *   `--insert-concurrency` in flight per stream, the three streams side by
 *   side (the consumer's shape, minus reading, decoding and committing);
 * - (b) bench/tutorial_consumer.ts on the same topic, with the consume task's
 *   permissions: its "Inserted" lines counted over a fixed window after the
 *   first one (it would take far too long to catch up).
 *
 * The order of the three rotates between repetitions; tables, groups and
 * topics are deleted after each repetition.
 *
 * @module
 */

import { ensurePlaysTable } from "../shared/bigquery/warehouse.ts";
import { openStorageWriter, storageRow } from "../shared/bigquery/storage_write.ts";
import { type OutputLine, tail } from "../shared/launch/mod.ts";
import { createSimulator } from "../shared/produce/simulator.ts";
import { toRow } from "../shared/schema.ts";
import { type ConsumerNames, fillTopic, finish, spawnConsumer, spawnTask } from "./processes.ts";
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

/** Options of {@linkcode benchSink}. */
export interface SinkBenchOptions {
  events: number;
  repetitions: number;
  /** How long the tutorial consumer is measured (after its first insert). */
  tutorialSeconds: number;
  log?: (line: string) => void;
}

/**
 * Reads a count as the progress line prints it (`950`, `12.3k`, `4.56M`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCompact } from "./sink.ts";
 * assert.equal(parseCompact("12.3k"), 12_300);
 * assert.equal(parseCompact("950"), 950);
 * ```
 */
export function parseCompact(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([kM]?)$/.exec(text);
  if (match === null) return undefined;
  const scale = match[2] === "k" ? 1_000 : match[2] === "M" ? 1_000_000 : 1;
  return Math.round(Number(match[1]) * scale);
}

/** The `inserted` count of a consumer progress line, if it is one. */
export function insertedOf(text: string): number | undefined {
  const match = /^consumer: consumed \S+ \| inserted (\S+) \|/.exec(text);
  return match === null ? undefined : parseCompact(match[1]!);
}

/**
 * Rate (rows/s) from timed progress lines: rows inserted between the first
 * line with any insert and the first line showing `total` (as printed, so
 * within the rounding of the display), divided by the time between them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressRate } from "./sink.ts";
 * const lines = [[0, "0"], [100, "500"], [1_100, "10.5k"], [2_100, "20.0k"]].map(([at, n]) => ({
 *   at: Number(at), text: `consumer: consumed 1 | inserted ${n} | dlq 0`,
 * }));
 * assert.equal(progressRate(lines, 20_000), 9_750);
 * ```
 */
export function progressRate(
  lines: readonly { at: number; text: string }[],
  total: number,
): number | undefined {
  let first: { at: number; inserted: number } | undefined;
  const shown = parseCompact(compactLike(total)) ?? total;
  for (const line of lines) {
    const inserted = insertedOf(line.text);
    if (inserted === undefined || inserted === 0) continue;
    first ??= { at: line.at, inserted };
    if (inserted >= shown && line.at > first.at) {
      return ((total - first.inserted) * 1000) / (line.at - first.at);
    }
  }
  return undefined;
}

/** The display of `value` in the progress line (shared/progress.ts `compact`). */
function compactLike(value: number): string {
  if (value < 9_999.5) return String(Math.round(value));
  if (value < 999_950) return `${(value / 1000).toFixed(1)}k`;
  return `${(value / 1_000_000).toFixed(2)}M`;
}

/** The default of a flag in a script's `--help` text, e.g. `--batch-rows` → 500. */
export function helpDefault(help: string, flag: string): number | undefined {
  const match = new RegExp(`--${flag} \\S+ .*\\(default: (\\d+)\\b`).exec(help);
  return match === null ? undefined : Number(match[1]);
}

async function consumerDefaults(): Promise<{ batchRows: number; concurrency: number }> {
  const lines = await finish(await spawnTask("consume", ["--help"]), "consumer.ts --help", 60_000);
  const help = lines.map((line) => line.text).join("\n");
  const batchRows = helpDefault(help, "batch-rows");
  const concurrency = helpDefault(help, "insert-concurrency");
  if (batchRows === undefined || concurrency === undefined) {
    throw new Error(`Cannot read the consumer's defaults from --help:\n${help}`);
  }
  return { batchRows, concurrency };
}

/** The Storage Write API address of the local BigQuery the consumer writes to. */
const STORAGE_API = Deno.env.get("BIGQUERY_STORAGE_EMULATOR_HOST") ?? "127.0.0.1:9060";

async function raw(
  table: string,
  events: number,
  defaults: { batchRows: number; concurrency: number },
): Promise<number> {
  const warehouse = benchWarehouse(table);
  await ensurePlaysTable(warehouse);
  const next = createSimulator({ seed: 7 });
  const ingestedAt = new Date().toISOString();
  const partitions = [0, 1, 2].map((partition) => {
    const count = Math.floor(events / 3) + (partition < events % 3 ? 1 : 0);
    return Array.from(
      { length: count },
      (_, i) => storageRow(toRow(next(), partition, String(i), ingestedAt)),
    );
  });
  const writer = await openStorageWriter(
    { project: "livecharts-local", dataset: "music", table },
    { emulator: STORAGE_API, timeoutMs: 120_000 },
  );
  try {
    const appenders = await Promise.all(
      partitions.map(async () => await writer.openAppender(await writer.createStream())),
    );
    const started = performance.now();
    await Promise.all(partitions.map(async (rows, p) => {
      const appender = appenders[p]!;
      const inFlight = new Set<Promise<void>>();
      for (let offset = 0; offset < rows.length; offset += defaults.batchRows) {
        if (inFlight.size >= defaults.concurrency) await Promise.race(inFlight);
        const append: Promise<void> = appender.append(
          rows.slice(offset, offset + defaults.batchRows),
          offset,
        ).then((result) => {
          inFlight.delete(append);
          if (result.status !== "ok") {
            throw new Error(`A raw append failed: ${JSON.stringify(result)}`);
          }
        });
        inFlight.add(append);
      }
      await Promise.all(inFlight);
    }));
    const rate = (events * 1000) / (performance.now() - started);
    for (const appender of appenders) appender.close();
    return rate;
  } finally {
    writer.close();
  }
}

async function ours(names: ConsumerNames, events: number): Promise<number> {
  const running = await spawnConsumer(names, ["--exit-when-idle", "1"], {
    env: { LIVECHARTS_PROGRESS_MS: "100" },
    keepLines: 100_000,
  });
  const lines = await finish(running, "consumer.ts", 900_000);
  const summary = lines.find((line) => /Stopped: \d+ consumed/.test(line.text))?.text ?? "";
  const inserted = Number(/(\d+) inserted/.exec(summary)?.[1]);
  if (inserted !== events) {
    throw new Error(`consumer.ts inserted ${inserted} rows, expected ${events}:\n${tail(lines)}`);
  }
  const rate = progressRate(lines, events);
  if (rate === undefined) throw new Error(`No progress lines from consumer.ts:\n${tail(lines)}`);
  return rate;
}

async function tutorial(names: ConsumerNames, seconds: number): Promise<number> {
  await ensurePlaysTable(benchWarehouse(names.table));
  let first: number | undefined;
  let count = 0;
  let finished: () => void = () => {};
  const window = new Promise<void>((resolve) => (finished = resolve));
  const onLine = (line: OutputLine) => {
    if (line.stream !== "stdout" || !line.text.startsWith("Inserted play ")) return;
    if (first === undefined) {
      first = line.at;
      setTimeout(finished, seconds * 1000);
    } else if (line.at - first <= seconds * 1000) count++;
  };
  const running = await spawnConsumer(names, [], {
    permissions: (args) =>
      args.map((arg) => arg === "consumer.ts" ? "bench/tutorial_consumer.ts" : arg),
    onLine,
  });
  const startTimeout = setTimeout(finished, 120_000);
  await Promise.race([window, running.done]);
  clearTimeout(startTimeout);
  await running.stop();
  if (first === undefined || count === 0) {
    throw new Error(`The tutorial consumer inserted nothing:\n${tail(running.lines)}`);
  }
  return count / seconds;
}

type Contender = "ours" | "raw" | "tutorial";

/** Runs the sink benchmark. */
export async function benchSink(options: SinkBenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const n = options.events;
  const defaults = await consumerDefaults();
  const rates: Record<Contender, number[]> = { ours: [], raw: [], tutorial: [] };
  const admin = await openAdmin();
  try {
    for (let rep = 0; rep < options.repetitions; rep++) {
      const topic = uniqueName("sink");
      const tables: string[] = [];
      const groups: string[] = [];
      try {
        await fillTopic(topic, n);
        const size = await topicSize(admin, topic);
        if (size !== n) throw new Error(`The sink topic holds ${size} events, expected ${n}`);
        const all: Contender[] = ["raw", "ours", "tutorial"];
        for (const contender of [...all.slice(rep % 3), ...all.slice(0, rep % 3)]) {
          const names = {
            topic,
            group: uniqueName(`${contender}_g`),
            table: uniqueName(contender),
          };
          tables.push(names.table);
          groups.push(names.group);
          const rate = contender === "raw"
            ? await raw(names.table, n, defaults)
            : contender === "ours"
            ? await ours(names, n)
            : await tutorial(names, options.tutorialSeconds);
          rates[contender].push(rate);
          log(`sink #${rep + 1} ${contender}: ${Math.round(rate)} rows/s`);
        }
      } finally {
        await dropTables(tables);
        await removeKafka(admin, { groups, topics: [topic, `${topic}.dlq`] });
      }
    }
  } finally {
    await admin.close();
  }
  const ours_ = summarize(rates.ours);
  const rawSummary = summarize(rates.raw);
  const tutorialSummary = summarize(rates.tutorial);
  const a: MeasuredReference = {
    name: "(a) raw Storage Write append loop",
    ...rawSummary,
    ratio: ratio(ours_.median, rawSummary.median),
  };
  const b: MeasuredReference = {
    name: "(b) tutorial consumer",
    ...tutorialSummary,
    ratio: ratio(ours_.median, tutorialSummary.median, 1),
  };
  return {
    id: "sink",
    what: `livecharts consumer (exactly once), ${
      n.toLocaleString("en")
    } pre-filled events → local BigQuery`,
    unit: "rows/s",
    repetitions: options.repetitions,
    ours: ours_,
    reference: a,
    ratio: a.ratio,
    references: [a, b],
    target: "≥ 0.8 × (a) and ≥ 20 × (b)",
    met: a.ratio >= 0.8 && b.ratio >= 20,
    method: "ours: consumer.ts (defaults) progress lines every 100 ms, rows from first insert to " +
      "all N over that time, each in a new table; (a) the same N rows appended by a plain loop " +
      "with the Storage Write API into a new table: one COMMITTED stream per partition (3, side " +
      `by side), appends of the consumer's default ${defaults.batchRows} rows at explicit ` +
      `offsets, ${defaults.concurrency} in flight per stream; (b) bench/tutorial_consumer.ts, ` +
      `inserts counted over ${options.tutorialSeconds} s after its first.`,
    details: {
      events: n,
      consumer_defaults: defaults,
      tutorial_window_s: options.tutorialSeconds,
      per_repetition: rates,
    },
  };
}
