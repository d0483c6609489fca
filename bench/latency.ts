/**
 * `latency`: time from produce to the dashboard's SSE push received by a
 * client, with the whole pipeline running at 1,000 events/s.
 *
 * Each repetition uses a fresh topic and starts, with their tasks'
 * permissions, the dashboard (on a free port), the consumer (so the machine
 * carries the real load), then `producer.ts --rate 1000 --count 1000×S`. The
 * benchmark process subscribes to `/api/stream?artist=tony-allen&window=5m`;
 * every pushed document gives one sample: arrival time minus its
 * `last_event_at` (the newest event time of the artist it reflects; the
 * producer stamps events when it generates them, just before sending). The
 * figure is the p99 of one repetition's samples; p50, p90 and max are kept.
 *
 * @module
 */

import { type BenchDashboard, startDashboard } from "./dashboard.ts";
import { finish, type Running, spawnTask, stop } from "./processes.ts";
import type { BenchResult } from "./report.ts";
import {
  createTopic,
  dropTables,
  openAdmin,
  removeKafka,
  uniqueName,
} from "./services.ts";
import { subscribe } from "./sse.ts";
import { percentile, summarize } from "./stats.ts";

/** Options of {@linkcode benchLatency}. */
export interface LatencyBenchOptions {
  seconds: number;
  rate: number;
  repetitions: number;
  log?: (line: string) => void;
}

/**
 * The latency sample of one pushed document: `receivedAt` minus its
 * `last_event_at`, or `undefined` for a document that is not live or has no
 * event yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pushLatency } from "./latency.ts";
 * const doc = JSON.stringify({ state: "live", last_event_at: "2026-11-24T19:00:00.000Z" });
 * assert.equal(pushLatency(doc, Date.parse("2026-11-24T19:00:00.250Z")), 250);
 * assert.equal(pushLatency(JSON.stringify({ state: "live", last_event_at: null }), 0), undefined);
 * ```
 */
export function pushLatency(data: string, receivedAt: number): number | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const state = "state" in doc ? doc.state : undefined;
  const last = "last_event_at" in doc ? doc.last_event_at : undefined;
  if (state !== "live" || typeof last !== "string") return undefined;
  const at = Date.parse(last);
  return Number.isFinite(at) ? receivedAt - at : undefined;
}

interface Repetition {
  samples: number[];
  producerRate: number | undefined;
}

async function repetition(options: LatencyBenchOptions): Promise<Repetition> {
  const topic = uniqueName("latency");
  const table = uniqueName("latency");
  const group = uniqueName("latency_g");
  const view = `${table}_top`;
  await createTopic(topic);
  let dashboard: BenchDashboard | undefined;
  let consumer: Running | undefined;
  const samples: number[] = [];
  let producing = false;
  try {
    dashboard = await startDashboard({ topic, table, view, group });
    consumer = await spawnTask("consume", ["--topic", topic, "--group", group, "--table", table]);
    const stream = await subscribe(
      `${dashboard.url}/api/stream?artist=tony-allen&window=5m`,
      (event, receivedAt) => {
        if (!producing || event.event !== "message") return;
        const sample = pushLatency(event.data, receivedAt);
        if (sample !== undefined) samples.push(sample);
      },
    );
    // Let the consumer join its group before the load starts.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    producing = true;
    const lines = await finish(
      await spawnTask("produce", [
        "--topic",
        topic,
        "--rate",
        String(options.rate),
        "--count",
        String(Math.round(options.rate * options.seconds)),
        "--log-file",
        "",
      ]),
      "producer.ts",
      (options.seconds + 60) * 1000,
    );
    // The last events still have to reach the page.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    producing = false;
    stream.close();
    await stream.done.catch(() => {});
    const summary = lines.find((l) => /events delivered/.test(l.text))?.text ?? "";
    const rate = /\((\d+) events\/s\)/.exec(summary)?.[1];
    return { samples, producerRate: rate === undefined ? undefined : Number(rate) };
  } finally {
    if (consumer !== undefined) await stop(consumer);
    if (dashboard !== undefined) await stop(dashboard.running);
    const admin = await openAdmin();
    await removeKafka(admin, { topics: [topic, `${topic}.dlq`], groups: [group] });
    await admin.disconnect();
    await dropTables([view, table]);
  }
}

/** Runs the latency benchmark. */
export async function benchLatency(options: LatencyBenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const reps: Repetition[] = [];
  for (let rep = 0; rep < options.repetitions; rep++) {
    const result = await repetition(options);
    if (result.samples.length === 0) throw new Error("No SSE push reflected a produced event");
    reps.push(result);
    log(
      `latency #${rep + 1}: p50 ${percentile(result.samples, 50)} ms, p99 ${
        percentile(result.samples, 99)
      } ms over ${result.samples.length} pushes`,
    );
  }
  const p99 = reps.map((r) => percentile(r.samples, 99));
  const ours = summarize(p99);
  return {
    id: "latency",
    what: `produce → SSE push received, ${options.rate} events/s for ${options.seconds} s, p99`,
    unit: "ms",
    repetitions: options.repetitions,
    ours,
    reference: null,
    ratio: null,
    references: [],
    target: "p99 < 1000 ms (Looker Studio: ≥ 60 s, not measured)",
    met: ours.median < 1000,
    method: "dashboard + consumer + producer.ts --rate R running; SSE client in the bench " +
      "process on /api/stream?artist=tony-allen&window=5m; sample per push = arrival − " +
      "last_event_at; figure = p99 per repetition.",
    details: {
      rate: options.rate,
      seconds: options.seconds,
      per_repetition: reps.map((r) => ({
        pushes: r.samples.length,
        p50_ms: percentile(r.samples, 50),
        p90_ms: percentile(r.samples, 90),
        p99_ms: percentile(r.samples, 99),
        max_ms: Math.max(...r.samples),
        producer_rate: r.producerRate,
      })),
    },
  };
}
