import assert from "node:assert/strict";
import { createConsumerMetrics } from "../../shared/sink/metrics.ts";
import { checkHealth, type HealthInput } from "../../shared/ops/health.ts";
import { parseExposition, sampleValue } from "../support/prometheus.ts";

const MINUTE = 60_000;

function input(overrides: Partial<HealthInput>): HealthInput {
  return {
    now: 10 * MINUTE,
    lastProgressAt: 10 * MINUTE,
    lag: 0n,
    lagMeasuredAt: 10 * MINUTE,
    stuckAfterMs: 2 * MINUTE,
    ...overrides,
  };
}

Deno.test("checkHealth() is ok after recent progress, whatever the lag", () => {
  const health = checkHealth(input({ lastProgressAt: 9 * MINUTE, lag: 5_000n }));
  assert.deepEqual(health, { healthy: true, status: "ok", reason: "Last progress 60 s ago" });
  assert.equal(checkHealth(input({ lag: undefined })).healthy, true, "even with unknown lag");
});

Deno.test("checkHealth() is ok when idle and caught up, however long", () => {
  const health = checkHealth(input({ lastProgressAt: 0, lag: 0n }));
  assert.deepEqual(health, { healthy: true, status: "ok", reason: "Caught up (lag 0)" });
});

Deno.test("checkHealth() is stuck without progress for the threshold while behind", () => {
  const atThreshold = checkHealth(input({ lastProgressAt: 8 * MINUTE, lag: 1n }));
  assert.deepEqual(atThreshold, {
    healthy: false,
    status: "stuck",
    reason: "No progress for 120 s with 1 message behind (stuck after 120 s)",
  });
  const justBefore = checkHealth(input({ lastProgressAt: 8 * MINUTE + 1, lag: 1n }));
  assert.equal(justBefore.healthy, true);
});

Deno.test("checkHealth() is stuck when the lag was never measured or is stale", () => {
  assert.equal(
    checkHealth(input({ lastProgressAt: 0, lag: undefined, lagMeasuredAt: undefined })).reason,
    "No progress for 600 s and the lag is unknown (never measured; stuck after 120 s)",
  );
  const stale = checkHealth(input({ lastProgressAt: 0, lag: 0n, lagMeasuredAt: 7 * MINUTE }));
  assert.equal(stale.healthy, false);
  assert.equal(
    stale.reason,
    "No progress for 600 s and the lag is unknown (last measured 180 s ago; stuck after 120 s)",
  );
});

Deno.test("checkHealth() rejects a threshold that is not positive", () => {
  assert.throws(
    () => checkHealth(input({ stuckAfterMs: 0 })),
    /Cannot check health: 'stuckAfterMs' must be a positive number, got 0/,
  );
});

Deno.test("createConsumerMetrics() tracks lag of owned partitions and health from commits", async () => {
  let now = 1_000_000;
  const metrics = createConsumerMetrics({
    stuckAfterMs: 10_000,
    now: () => now,
    defaultMetrics: false,
  });
  assert.equal(metrics.health().healthy, true, "starting");
  now += 10_000;
  assert.match(metrics.health().reason, /lag is unknown \(never measured/, "not joined yet");

  metrics.assigned([0, 2]);
  metrics.committed(0, 4n);
  metrics.committed(1, 9n); // not owned: ignored
  assert.equal(metrics.totalLag(), 4n);
  let report = metrics.health();
  assert.equal(report.healthy, true, "a commit is progress");
  assert.deepEqual(report.details?.partitions, [0, 2]);
  assert.equal(report.details?.lag, null, "partition 2 not measured yet");

  let resolveMeasure: (value: { partition: number; lag: bigint }[]) => void = () => {};
  metrics.refreshLag(() => new Promise((resolve) => (resolveMeasure = resolve)));
  metrics.refreshLag(() => Promise.reject(new Error("a second one must not start")));
  resolveMeasure([{ partition: 0, lag: 4n }, { partition: 1, lag: 7n }, { partition: 2, lag: 3n }]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(metrics.totalLag(), 7n);

  now += 10_000;
  report = metrics.health();
  assert.equal(report.healthy, false);
  assert.equal(report.details?.lag, 7);

  metrics.assigned([2]);
  const parsed = parseExposition(await metrics.registry.metrics());
  assert.equal(sampleValue(parsed, "livecharts_consumer_lag", { partition: "0" }), undefined);
  assert.equal(sampleValue(parsed, "livecharts_consumer_lag", { partition: "2" }), 3);
  assert.equal(
    sampleValue(parsed, "livecharts_consumer_last_commit_timestamp_seconds"),
    1_010,
  );
});

Deno.test("createConsumerMetrics() exposes every consumer series", async () => {
  const metrics = createConsumerMetrics({ stuckAfterMs: 120_000 });
  metrics.trackSink({
    consumed: 12,
    inserted: 9,
    deadLettered: {
      "invalid-json": 2,
      "invalid-event": 1,
      "rejected-by-bigquery": 0,
      "schema-conflict": 3,
    },
    retries: 1,
    batches: 2,
    lastBatchRows: 4,
    lastInsertMs: 30,
  });
  metrics.onInsert(5, 20);
  metrics.onInsert(4, 30);
  metrics.retried("insert");
  metrics.setUp(true);
  const parsed = parseExposition(await metrics.registry.metrics());
  const value = (name: string, labels?: Record<string, string>) =>
    sampleValue(parsed, name, labels);
  assert.equal(value("livecharts_consumer_messages_consumed_total"), 12);
  assert.equal(value("livecharts_consumer_rows_inserted_total"), 9);
  assert.equal(value("livecharts_consumer_dead_letters_total", { reason: "invalid-json" }), 2);
  assert.equal(
    value("livecharts_consumer_dead_letters_total", { reason: "rejected-by-bigquery" }),
    0,
  );
  assert.equal(value("livecharts_consumer_dead_letters_total", { reason: "schema-conflict" }), 3);
  assert.equal(value("livecharts_consumer_retries_total", { operation: "insert" }), 1);
  assert.equal(value("livecharts_consumer_retries_total", { operation: "dead-letter" }), 0);
  assert.equal(value("livecharts_consumer_batch_rows_count"), 2);
  assert.equal(value("livecharts_consumer_batch_rows_sum"), 9);
  assert.equal(value("livecharts_consumer_batch_rows_bucket", { le: "5" }), 2);
  assert.equal(value("livecharts_consumer_insert_seconds_sum"), 0.05);
  assert.equal(value("livecharts_consumer_insert_seconds_bucket", { le: "0.025" }), 1);
  assert.equal(value("livecharts_consumer_up"), 1);
  assert.equal(parsed.types.get("livecharts_consumer_lag"), "gauge");
  assert.equal(parsed.types.get("livecharts_consumer_insert_seconds"), "histogram");
  assert.equal(parsed.types.get("livecharts_consumer_batch_rows"), "histogram");
  assert.equal(parsed.types.get("livecharts_consumer_messages_consumed_total"), "counter");
  assert.equal(parsed.types.get("process_cpu_seconds_total"), "counter", "default metrics too");
});
