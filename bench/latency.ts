/**
 * `latency`: time from produce to the dashboard's SSE push received by a
 * client, with the whole pipeline running at 1,000 events/s.
 *
 * Each repetition uses a fresh topic and starts, with their tasks'
 * permissions, the dashboard (on a free port), the consumer (so the machine
 * carries the real load), then `producer.ts --rate 1000 --count 1000×S`. The
 * benchmark process subscribes to `/api/stream?artist=tony-allen&window=5m`.
 * Event times are stamped by the producer when it generates an event, just
 * before sending, and each document carries the newest one it reflects
 * (`last_event_at`). Every push that shows new events gives one sample:
 * arrival time minus the previous push's `last_event_at`. The events a push
 * shows first are all newer than that, so the sample bounds their latency,
 * including the dashboard's coalescing of pushes. The figure is the p99 of one
 * repetition's samples; p50, p90, max and the newest event's own transit
 * time are kept.
 *
 * @module
 */

import type { Child } from "../shared/launch/mod.ts";
import { type Dashboard, startDashboard } from "./dashboard.ts";
import { finish, spawnConsumer, spawnTask } from "./processes.ts";
import type { BenchResult } from "./report.ts";
import { createTopic, dropTables, openAdmin, removeKafka, uniqueName } from "./services.ts";
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
 * The newest event time (`last_event_at`, ms) of a pushed document, or
 * `undefined` for a document that is not live or has no event yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lastEventTime } from "./latency.ts";
 * const doc = JSON.stringify({ state: "live", last_event_at: "2026-11-24T19:00:00.000Z" });
 * assert.equal(lastEventTime(doc), Date.parse("2026-11-24T19:00:00.000Z"));
 * assert.equal(lastEventTime(JSON.stringify({ state: "live", last_event_at: null })), undefined);
 * ```
 */
export function lastEventTime(data: string): number | undefined {
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
  return Number.isFinite(at) ? at : undefined;
}

/** Latency samples of a stream of pushes. */
export interface PushSamples {
  /** Per push: arrival minus the newest event it shows (the pipeline's transit time). */
  newest: number[];
  /**
   * Per push showing new events: arrival minus the newest event of the
   * previous push. Every event first shown by this push is newer than that,
   * so this bounds the latency of all of them (coalescing included).
   */
  bound: number[];
}

/**
 * Collects {@linkcode PushSamples} push by push.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pushSampler } from "./latency.ts";
 * const sampler = pushSampler();
 * sampler.add(1_000, 1_020);
 * sampler.add(1_240, 1_270);
 * assert.deepEqual(sampler.samples, { newest: [20, 30], bound: [270] });
 * ```
 */
export function pushSampler(): { samples: PushSamples; add(last: number, at: number): void } {
  const samples: PushSamples = { newest: [], bound: [] };
  let previous: number | undefined;
  return {
    samples,
    add(last, at) {
      samples.newest.push(at - last);
      if (previous !== undefined && last > previous) samples.bound.push(at - previous);
      previous = previous === undefined ? last : Math.max(previous, last);
    },
  };
}

interface Repetition {
  samples: PushSamples;
  producerRate: number | undefined;
}

async function repetition(options: LatencyBenchOptions): Promise<Repetition> {
  const topic = uniqueName("latency");
  const table = uniqueName("latency");
  const group = uniqueName("latency_g");
  const view = `${table}_top`;
  await createTopic(topic);
  let dashboard: Dashboard | undefined;
  let consumer: Child | undefined;
  const sampler = pushSampler();
  let producing = false;
  try {
    dashboard = await startDashboard({ topic, table, view, group }, {
      args: ["--reconcile-every", "0"],
      until: "serving",
    });
    consumer = await spawnConsumer({ topic, group, table });
    const stream = await subscribe(
      new URL("/api/stream?artist=tony-allen&window=5m", dashboard.url).href,
      (event, receivedAt) => {
        if (!producing || event.event !== "message") return;
        const last = lastEventTime(event.data);
        if (last !== undefined) sampler.add(last, receivedAt);
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
    return {
      samples: sampler.samples,
      producerRate: rate === undefined ? undefined : Number(rate),
    };
  } finally {
    if (consumer !== undefined) await consumer.stop();
    if (dashboard !== undefined) await dashboard.stop();
    const admin = await openAdmin();
    await removeKafka(admin, { topics: [topic, `${topic}.dlq`], groups: [group] });
    await admin.close();
    await dropTables([view, table]);
  }
}

/** Runs the latency benchmark. */
export async function benchLatency(options: LatencyBenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const reps: Repetition[] = [];
  for (let rep = 0; rep < options.repetitions; rep++) {
    const result = await repetition(options);
    const { bound, newest } = result.samples;
    if (bound.length === 0) throw new Error("No SSE push showed a produced event");
    reps.push(result);
    log(
      `latency #${rep + 1}: p99 ${percentile(bound, 99)} ms (bound), p50 ${
        percentile(bound, 50)
      } ms (bound), p50 ${percentile(newest, 50)} ms (newest event) over ${bound.length} pushes`,
    );
  }
  const ours = summarize(reps.map((r) => percentile(r.samples.bound, 99)));
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
      "process on /api/stream?artist=tony-allen&window=5m; per push, arrival − last_event_at " +
      "of the previous push (bounds the latency of every event the push shows first); " +
      "figure = p99 per repetition. 'newest' = arrival − the push's own last_event_at.",
    details: {
      rate: options.rate,
      seconds: options.seconds,
      per_repetition: reps.map(({ samples: { bound, newest }, producerRate }) => ({
        pushes: bound.length,
        p50_ms: percentile(bound, 50),
        p90_ms: percentile(bound, 90),
        p99_ms: percentile(bound, 99),
        max_ms: Math.max(...bound),
        newest_p50_ms: percentile(newest, 50),
        newest_p99_ms: percentile(newest, 99),
        producer_rate: producerRate,
      })),
    },
  };
}
