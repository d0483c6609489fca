/**
 * `produce`: events/s of the livecharts producer against Kafka's own
 * `ProducerPerformance` and librdkafka's `kcat -P`, on the same broker, with
 * the same record size and `acks=all`, in the same run.
 *
 * - ours: `producer.ts --count N --rate 0 --log-file ''` with the produce
 *   task's permissions; the rate its summary reports (first event generated
 *   to last acknowledgement, so Deno start-up and the topic check are out).
 * - ProducerPerformance: `--num-records N --record-size <mean event size>
 *   --throughput -1`, `acks=all`, otherwise default producer settings; the
 *   rate it reports (its send loop, JVM start-up excluded).
 * - kcat: the same N realistic events, keyed like ours, piped to
 *   `kcat -P -K '\t' -X acks=all`; wall time of the process (start-up of a
 *   C program is a few milliseconds).
 *
 * Each repetition uses fresh 3-partition topics, checks that every record
 * arrived, and deletes them afterwards. The order of the three rotates
 * between repetitions.
 *
 * @module
 */

import { tail } from "../shared/launch/mod.ts";
import { toMessage } from "../shared/produce/produce_events.ts";
import { createSimulator } from "../shared/produce/simulator.ts";
import { kafkaTools } from "./machine.ts";
import { available, finish, spawn, spawnTask } from "./processes.ts";
import type { BenchResult, Reference } from "./report.ts";
import { BROKERS, createTopic, openAdmin, removeKafka, topicSize, uniqueName } from "./services.ts";
import { ratio, summarize } from "./stats.ts";

/** Options of {@linkcode benchProduce}. */
export interface ProduceBenchOptions {
  events: number;
  repetitions: number;
  log?: (line: string) => void;
}

/** N realistic events as kcat input (`key\tvalue` lines) and their mean value size. */
export function eventLines(count: number, seed = 42): { bytes: Uint8Array; meanSize: number } {
  const next = createSimulator({ seed });
  const decoder = new TextDecoder();
  const lines: string[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const message = toMessage(next());
    total += message.value.byteLength;
    lines.push(`${message.key}\t${decoder.decode(message.value)}\n`);
  }
  return { bytes: new TextEncoder().encode(lines.join("")), meanSize: Math.round(total / count) };
}

/** Reads `(R events/s)` from the producer's summary line. */
export function producerRate(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    const match = /Stopped: (\d+) events delivered.*\((\d+) events\/s\)/.exec(line);
    if (match !== null) return Number(match[2]);
  }
  return undefined;
}

/**
 * Reads `X records/sec` from ProducerPerformance's final line (the one with
 * percentiles; the lines it prints every 5 s give the rate of that window).
 */
export function producerPerformanceRate(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    const match = /^(\d+) records sent, ([\d.]+) records\/sec .* 99th/.exec(line);
    if (match !== null) return Number(match[2]);
  }
  return undefined;
}

type Tool = "ours" | "ProducerPerformance" | "kcat";

/** Runs the produce benchmark. */
export async function benchProduce(options: ProduceBenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const n = options.events;
  const { bytes, meanSize } = eventLines(n);
  const kafka = await kafkaTools();
  const kcat = await available("kcat", ["-V"]);
  const java = kafka !== undefined && await available("java", ["-version"]);
  const skipped: Partial<Record<Tool, string>> = {};
  if (kafka === undefined) {
    skipped.ProducerPerformance = "no Kafka jars under ~/.cache/livecharts (Docker services?)";
  } else if (!java) skipped.ProducerPerformance = "java is not installed";
  if (!kcat) skipped.kcat = "kcat is not installed";

  const rates: Record<Tool, number[]> = { ours: [], ProducerPerformance: [], kcat: [] };
  const admin = await openAdmin();
  try {
    for (let rep = 0; rep < options.repetitions; rep++) {
      const tools: Tool[] = ["ours", "ProducerPerformance", "kcat"];
      const order = [...tools.slice(rep % 3), ...tools.slice(0, rep % 3)];
      for (const tool of order) {
        if (skipped[tool] !== undefined) continue;
        const topic = uniqueName(`produce_${tool === "ProducerPerformance" ? "pp" : tool}`);
        try {
          let rate: number | undefined;
          if (tool === "ours") {
            const lines = await finish(
              await spawnTask("produce", [
                "--topic",
                topic,
                "--count",
                String(n),
                "--rate",
                "0",
                "--log-file",
                "",
              ]),
              "producer.ts",
              300_000,
            );
            rate = producerRate(lines.map((l) => l.text));
            if (rate === undefined) {
              throw new Error(`No rate in the producer's summary:\n${tail(lines)}`);
            }
          } else if (tool === "ProducerPerformance") {
            await createTopic(topic);
            const lines = await finish(
              spawn("java", [
                "-Xmx512m",
                "-cp",
                `${kafka!.lib}/*`,
                "org.apache.kafka.tools.ProducerPerformance",
                "--topic",
                topic,
                "--num-records",
                String(n),
                "--record-size",
                String(meanSize),
                "--throughput",
                "-1",
                "--command-property",
                `bootstrap.servers=${BROKERS.join(",")}`,
                "acks=all",
              ]),
              "ProducerPerformance",
              300_000,
            );
            rate = producerPerformanceRate(lines.map((l) => l.text));
            if (rate === undefined) {
              throw new Error(`No rate from ProducerPerformance:\n${tail(lines)}`);
            }
          } else {
            await createTopic(topic);
            const started = performance.now();
            await finish(
              spawn("kcat", [
                "-P",
                "-b",
                BROKERS.join(","),
                "-t",
                topic,
                "-K",
                "\t",
                "-X",
                "acks=all",
              ], { stdin: bytes }),
              "kcat -P",
              300_000,
            );
            rate = (n * 1000) / (performance.now() - started);
          }
          const size = await topicSize(admin, topic);
          if (size !== n) {
            throw new Error(`${tool} left ${size} records in ${topic}, expected ${n}`);
          }
          rates[tool].push(rate);
          log(`produce #${rep + 1} ${tool}: ${Math.round(rate)} events/s`);
        } finally {
          await removeKafka(admin, { topics: [topic] });
        }
      }
    }
  } finally {
    await admin.close();
  }

  const ours = summarize(rates.ours);
  const reference = (tool: Exclude<Tool, "ours">, name: string): Reference => {
    const reason = skipped[tool];
    if (reason !== undefined) return { name, skipped: reason };
    const summary = summarize(rates[tool]);
    return { name, ...summary, ratio: ratio(ours.median, summary.median) };
  };
  const pp = reference("ProducerPerformance", "ProducerPerformance");
  const kcatRef = reference("kcat", "kcat -P");
  const ppRatio = "ratio" in pp ? pp.ratio : null;
  return {
    id: "produce",
    what: `livecharts producer, ${n.toLocaleString("en")} events of ~${meanSize} bytes, acks=all`,
    unit: "events/s",
    repetitions: options.repetitions,
    ours,
    reference: pp,
    ratio: ppRatio,
    references: [pp, kcatRef],
    target: "≥ 1.0 × ProducerPerformance",
    met: ppRatio !== null && ppRatio >= 1,
    method: "ours: rate in producer.ts's summary (first event generated to last ack); " +
      "ProducerPerformance: its reported records/sec, --record-size = mean event size; " +
      "kcat: N events piped to kcat -P, wall time. Fresh 3-partition topic each, count checked.",
    details: {
      events: n,
      mean_event_bytes: meanSize,
      per_repetition: rates,
    },
  };
}
