// /metrics and /healthz: the HTTP handler in-process, then the consumer
// against the real local broker and emulator, scraped while it runs.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { createRegistry, Gauge } from "../../shared/ops/metrics.ts";
import { serveMetrics } from "../../shared/ops/metrics_server.ts";
import {
  consumerArgs,
  endOffsets,
  goodEvent,
  produceRaw,
  type Script,
  startScript,
  uniqueName,
  waitFor,
} from "../support/harness.ts";
import { type Exposition, parseExposition, sampleValue } from "../support/prometheus.ts";

test("serveMetrics() serves on a free port, and fails only for an explicit busy port", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  new Gauge({ name: "up", help: "Up", registers: [registry] }).set(1);
  const server = serveMetrics({ hostname: "127.0.0.1", port: 0, registry });
  assert.ok(server && server.port > 0);
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(await response.text(), "# HELP up Up\n# TYPE up gauge\nup 1\n");
    assert.throws(
      () => serveMetrics({ hostname: "127.0.0.1", port: server.port, registry }),
      new RegExp(`Cannot serve metrics on 127\\.0\\.0\\.1:${server.port}: the port is taken`),
    );
  } finally {
    await server.shutdown();
  }
});

function names() {
  const id = uniqueName("m");
  return { topic: `metrics_${id}`, group: `group_${id}`, table: `metrics_${id}` };
}

async function boundPort(script: Script): Promise<number> {
  let port = 0;
  await waitFor("the metrics server to listen", () => {
    const match = /Serving metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(script.stderr());
    port = match ? Number(match[1]) : 0;
    return port > 0;
  }, 60_000);
  return port;
}

async function scrape(port: number): Promise<Exposition> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

async function healthz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: await response.json() };
}

test("consumer serves /metrics and /healthz: counts, dead letters by reason, lag 0 after catch-up", async () => {
  const n = names();
  const good = Array.from({ length: 40 }, () => JSON.stringify(goodEvent()));
  const poison = ["{not json", "[1,2,3]", JSON.stringify(goodEvent({ song_id: "x" }))];
  await produceRaw(n.topic, [...good, ...poison]);
  const consumer = await startScript("consume", consumerArgs(n, ["--metrics-port", "0"]));
  try {
    const port = await boundPort(consumer);
    let metrics: Exposition | undefined;
    await waitFor(
      "every message consumed and the lag measured at 0",
      async () => {
        metrics = await scrape(port);
        const lags = metrics.samples.filter((s) => s.name === "livecharts_consumer_lag");
        return sampleValue(metrics, "livecharts_consumer_rows_inserted_total") === 40 &&
          lags.length === 3 && lags.every((s) => s.value === 0);
      },
      60_000,
      500,
    );
    assert.ok(metrics);
    const value = (name: string, labels?: Record<string, string>) =>
      sampleValue(metrics!, name, labels);
    assert.equal(value("livecharts_consumer_messages_consumed_total"), 43);
    assert.equal(value("livecharts_consumer_dead_letters_total", { reason: "invalid-json" }), 2);
    assert.equal(value("livecharts_consumer_dead_letters_total", { reason: "invalid-event" }), 1);
    assert.equal(
      value("livecharts_consumer_dead_letters_total", { reason: "rejected-by-bigquery" }),
      0,
    );
    assert.equal(value("livecharts_consumer_retries_total", { operation: "insert" }), 0);
    assert.equal(value("livecharts_consumer_up"), 1);
    // prom-client's default metrics, with the task's grants (no /proc: memory from Deno).
    assert.ok((value("process_resident_memory_bytes") ?? 0) > 0);
    assert.ok((value("process_cpu_seconds_total") ?? 0) > 0);
    assert.equal(metrics.types.get("nodejs_eventloop_lag_seconds"), "gauge");
    assert.equal(value("livecharts_consumer_batch_rows_sum"), 40);
    assert.ok((value("livecharts_consumer_insert_seconds_count") ?? 0) >= 1);
    const committedAt = value("livecharts_consumer_last_commit_timestamp_seconds") ?? 0;
    assert.ok(Math.abs(committedAt - Date.now() / 1000) < 120, `recent commit (${committedAt})`);

    const health = await healthz(port);
    assert.equal(health.status, 200);
    assert.equal(health.body.status, "ok");
    assert.equal(health.body.lag, 0);
    const missing = await fetch(`http://127.0.0.1:${port}/nothing`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    consumer.kill("SIGTERM");
    const result = await consumer.done;
    assert.equal(result.code, 0, result.stderr);
  }
});

test("consumer /healthz turns 503 when nothing is committed while behind (--stuck-after 1)", async () => {
  const n = names();
  // Batches wait a minute before they are written: no commit, lag > 0.
  const consumer = await startScript(
    "consume",
    consumerArgs(n, [
      "--metrics-port",
      "0",
      "--stuck-after",
      "1",
      "--batch-wait-ms",
      "60000",
      "--batch-rows",
      "50000",
    ]),
  );
  try {
    const port = await boundPort(consumer);
    await waitFor("the consumer to start", () => /Writing to/.test(consumer.stderr()), 60_000);
    await produceRaw(n.topic, Array.from({ length: 30 }, () => JSON.stringify(goodEvent())));
    // A producer retry may have written a batch twice: the lag is what the topic holds.
    const held = [...(await endOffsets(n.topic)).values()].reduce((a, b) => a + Number(b), 0);
    assert.ok(held >= 30);
    let last: { status: number; body: Record<string, unknown> } | undefined;
    await waitFor(
      "/healthz to report the consumer stuck",
      async () => {
        last = await healthz(port);
        return last.status === 503 && last.body.lag === held;
      },
      30_000,
      250,
    ).catch((error) => {
      throw new Error(`${error.message}; last: ${JSON.stringify(last)}\n${consumer.stderr()}`);
    });
    assert.equal(last?.body.status, "stuck");
    assert.match(
      String(last?.body.reason),
      new RegExp(`^No progress for \\d+ s with ${held} messages behind`),
    );
    await waitFor("the warning in the log", () => /Unhealthy: No progress/.test(consumer.stderr()));
  } finally {
    consumer.kill("SIGTERM");
    const result = await consumer.done;
    assert.equal(result.code, 0, result.stderr);
  }
});

test("consumer --help lists the metrics and health options", async () => {
  const help = await startScript("consume", ["--help"]);
  const result = await help.done;
  assert.equal(result.code, 0);
  for (const name of ["--metrics-port", "METRICS_PORT", "METRICS_HOST", "STUCK_AFTER_SECONDS"]) {
    assert.ok(result.stdout.includes(name), `help mentions ${name}`);
  }
});
