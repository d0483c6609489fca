import assert from "node:assert/strict";
import type { LiveState } from "../../shared/live/feed/live_feed.ts";
import { dashboardMetrics } from "../../shared/live/metrics.ts";

Deno.test("dashboardMetrics() reads the live stats at scrape time", async () => {
  const feed = {
    read: 0,
    invalid: 0,
    caughtUp: false,
    lastReadAt: undefined,
    minEventAt: undefined,
    contiguous: true,
  };
  const counter = {
    counted: 0,
    duplicates: 0,
    late: 0,
    seeded: 0,
    songs: 0,
    artists: 0,
    evictedSongs: 0,
    allTimeSongs: 0,
    allTimeArtists: 0,
    dedupIds: 0,
    dedupBytes: 0,
    buckets: 0,
  };
  const status: { state: LiveState; health: "ok" | "degraded" | "down" } = {
    state: "degraded",
    health: "degraded",
  };
  const registry = dashboardMetrics({
    feed: () => feed,
    counter: () => counter,
    status: () => status,
    streams: () => 2,
    streamsDropped: () => 3,
  });
  const before = await registry.metrics();
  assert.match(before, /^livecharts_dashboard_live 0$/m);
  assert.match(before, /^livecharts_dashboard_degraded 1$/m);
  feed.read = 10;
  feed.invalid = 1;
  feed.caughtUp = true;
  counter.counted = 8;
  counter.duplicates = 1;
  counter.seeded = 1_000;
  status.state = "live";
  status.health = "ok";
  const text = await registry.metrics();
  assert.match(text, /^livecharts_dashboard_degraded 0$/m);
  assert.match(text, /^livecharts_dashboard_history_plays 1000$/m);
  assert.match(text, /^livecharts_dashboard_streams_dropped_total 3$/m);
  assert.match(text, /^livecharts_dashboard_messages_read_total 10$/m);
  assert.match(text, /^livecharts_dashboard_messages_invalid_total 1$/m);
  assert.match(text, /^livecharts_dashboard_plays_counted_total 8$/m);
  assert.match(text, /^livecharts_dashboard_duplicates_total 1$/m);
  assert.match(text, /^livecharts_dashboard_live 1$/m);
  assert.match(text, /^livecharts_dashboard_streams 2$/m);
  assert.match(text, /^# TYPE livecharts_dashboard_plays_counted_total counter$/m);
  assert.match(text, /^# TYPE livecharts_dashboard_live gauge$/m);
  assert.match(text, /^livecharts_dashboard_resident_memory_bytes [1-9]\d*$/m);
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m, "default metrics too");
});
