/**
 * `sink`: rows/s of the livecharts consumer from a pre-filled topic into
 * the BigQuery emulator until caught up, against (a) the emulator's raw
 * batched insert rate from a plain client loop without Kafka and (b) a
 * consumer written the tutorial's way (one insert per message, auto-commit).
 *
 * Each repetition fills a fresh 3-partition topic with N events (producer.ts)
 * and gives every contender its own table (and group):
 * - ours: consumer.ts with the consume task's permissions and its default
 *   settings, `--exit-when-idle`; it prints its progress line every 100 ms
 *   (`LIVECHARTS_PROGRESS_MS`) and the rate is the rows inserted between the
 *   first line showing an insert and the first showing all N, over that time
 *   (start-up and group join excluded, like the other contenders');
 * - (a) N rows of the same shape inserted by `table.insert(rows, { raw: true })`
 *   in a sequential loop, in batches of the consumer's default `--batch-rows`;
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
import { type OutputLine, tail } from "../shared/cli/tasks.ts";
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
  const match = new RegExp(`--${flag} \\S+ .*\\(default: (\\d+)\\)`).exec(help);
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

async function raw(table: string, events: number, batchRows: number): Promise<number> {
  const warehouse = benchWarehouse(table);
  await ensurePlaysTable(warehouse);
  const next = createSimulator({ seed: 7 });
  const ingestedAt = new Date().toISOString();
  const rows = Array.from({ length: events }, (_, i) => {
    const event = next();
    return {
      insertId: event.event_id,
      json: { ...toRow(event, i % 3, String(i), ingestedAt) },
    };
  });
  const started = performance.now();
  for (let i = 0; i < rows.length; i += batchRows) {
    await warehouse.table.insert(rows.slice(i, i + batchRows), {
      raw: true,
      skipInvalidRows: true,
    });
  }
  return (events * 1000) / (performance.now() - started);
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
            ? await raw(names.table, n, defaults.batchRows)
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
    name: "(a) raw insertAll loop",
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
    what: `livecharts consumer, ${n.toLocaleString("en")} pre-filled events → emulator`,
    unit: "rows/s",
    repetitions: options.repetitions,
    ours: ours_,
    reference: a,
    ratio: a.ratio,
    references: [a, b],
    target: "≥ 0.8 × (a) and ≥ 20 × (b)",
    met: a.ratio >= 0.8 && b.ratio >= 20,
    method: "ours: consumer.ts (defaults) progress lines every 100 ms, rows from first insert to " +
      "all N over that time; (a) sequential table.insert(raw) loop of the same rows in batches of " +
      `the consumer's default ${defaults.batchRows}; (b) bench/tutorial_consumer.ts, inserts ` +
      `counted over ${options.tutorialSeconds} s after its first.`,
    details: {
      events: n,
      consumer_defaults: defaults,
      tutorial_window_s: options.tutorialSeconds,
      per_repetition: rates,
    },
  };
}
