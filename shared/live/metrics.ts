/**
 * Prometheus metrics of the dashboard: what it read from Kafka, what it
 * counted, open streams and memory, all read from the live stats objects at
 * scrape time.
 *
 * @module
 */

import { createRegistry, type Registry } from "../ops/mod.ts";
import type { FeedStats } from "./play_feed.ts";
import type { CounterStats } from "./windows.ts";

/** Where the dashboard's numbers live. */
export interface DashboardSources {
  feed: () => FeedStats | undefined;
  counter: () => CounterStats;
  streams: () => number;
}

/**
 * Builds the dashboard's registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardMetrics } from "./metrics.ts";
 * const registry = dashboardMetrics({
 *   feed: () => ({ read: 3, invalid: 1, caughtUp: true, lastReadAt: 0 }),
 *   counter: () => ({ counted: 2, duplicates: 0, late: 0, songs: 2, artists: 1, dedupBytes: 64, buckets: 4 }),
 *   streams: () => 1,
 * });
 * assert.match(registry.render(), /^livecharts_dashboard_messages_read_total 3$/m);
 * ```
 */
export function dashboardMetrics(sources: DashboardSources): Registry {
  const registry = createRegistry();
  registry.counter({
    name: "livecharts_dashboard_messages_read_total",
    help: "Kafka messages read (history replay and live)",
    collect: () => sources.feed()?.read ?? 0,
  });
  registry.counter({
    name: "livecharts_dashboard_messages_invalid_total",
    help: "Messages skipped because they are not valid events",
    collect: () => sources.feed()?.invalid ?? 0,
  });
  registry.counter({
    name: "livecharts_dashboard_plays_counted_total",
    help: "Distinct plays counted",
    collect: () => sources.counter().counted,
  });
  registry.counter({
    name: "livecharts_dashboard_duplicates_total",
    help: "Plays ignored because their event_id was already counted",
    collect: () => sources.counter().duplicates,
  });
  registry.counter({
    name: "livecharts_dashboard_late_total",
    help: "Plays read later than the allowed lateness (counted in all-time only)",
    collect: () => sources.counter().late,
  });
  registry.gauge({
    name: "livecharts_dashboard_live",
    help: "1 once the history replay caught up",
    collect: () => (sources.feed()?.caughtUp ? 1 : 0),
  });
  registry.gauge({
    name: "livecharts_dashboard_songs",
    help: "Songs with plays",
    collect: () => sources.counter().songs,
  });
  registry.gauge({
    name: "livecharts_dashboard_dedup_bytes",
    help: "Bytes held by the event-id dedup set",
    collect: () => sources.counter().dedupBytes,
  });
  registry.gauge({
    name: "livecharts_dashboard_streams",
    help: "Open Server-Sent Events streams",
    collect: () => sources.streams(),
  });
  registry.gauge({
    name: "livecharts_dashboard_resident_memory_bytes",
    help: "Resident set size of the process",
    collect: () => Deno.memoryUsage().rss,
  });
  return registry;
}
