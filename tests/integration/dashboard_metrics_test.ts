import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import type {} from "../../shared/live/feed/live_feed.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { dashboardNames } from "../support/dashboard.ts";
import { goodEvent, produceRaw } from "../support/harness.ts";
import { parseExposition, sampleValue } from "../support/prometheus.ts";

test("dashboard serves /metrics with what it read from Kafka", async () => {
  const names = dashboardNames();
  const events = Array.from({ length: 25 }, () => goodEvent());
  await produceRaw(names.topic, [
    ...events.map((e) => JSON.stringify(e)),
    JSON.stringify(events[0]), // a duplicate
    "not json",
  ]);
  const dashboard = await startDashboard(names);
  try {
    const response = await fetch(new URL("/metrics", dashboard.url));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^livecharts_dashboard_messages_read_total 27$/m);
    assert.match(text, /^livecharts_dashboard_messages_invalid_total 1$/m);
    assert.match(text, /^livecharts_dashboard_plays_counted_total 25$/m);
    assert.match(text, /^livecharts_dashboard_duplicates_total 1$/m);
    assert.match(text, /^livecharts_dashboard_live 1$/m);
    // prom-client's default metrics, with the task's grants (no /proc: memory from Deno).
    const parsed = parseExposition(text);
    assert.ok((sampleValue(parsed, "process_resident_memory_bytes") ?? 0) > 0);
    assert.equal(parsed.types.get("process_cpu_seconds_total"), "counter");
  } finally {
    await dashboard.stop();
  }
});
