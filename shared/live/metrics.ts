/**
 * Prometheus metrics of the dashboard: what it read from Kafka, what it
 * counted, its state, open and dropped streams and memory, all read from the
 * live stats objects at scrape time, plus the default process and runtime
 * metrics.
 *
 * @module
 */

import { Counter, createRegistry, Gauge, type Registry } from "../ops/mod.ts";
import type { LiveStatus } from "./feed/live_feed.ts";
import type { FeedStats } from "./feed/play_feed.ts";
import type { CounterStats } from "./counting/mod.ts";

/** Where the dashboard's numbers live. */
export interface DashboardSources {
  feed: () => FeedStats | undefined;
  counter: () => CounterStats;
  /** Whether the numbers are complete (default: live once the feed caught up). */
  status?: () => Pick<LiveStatus, "state" | "health">;
  streams: () => number;
  /** Streams closed because their viewer stopped reading (default 0). */
  streamsDropped?: () => number;
}

/** Options of {@linkcode dashboardMetrics}. */
export interface DashboardMetricsOptions {
  /** Adds the default process and runtime metrics (default true; see `createRegistry`). */
  defaultMetrics?: boolean;
}

/**
 * Builds the dashboard's registry: its `livecharts_dashboard_*` series next
 * to the default process and runtime metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardMetrics } from "./metrics.ts";
 * const registry = dashboardMetrics({
 *   feed: () => ({
 *     read: 3, invalid: 1, caughtUp: true, lastReadAt: 0, minEventAt: 0, contiguous: true,
 *   }),
 *   counter: () => ({
 *     counted: 2, duplicates: 0, late: 0, seeded: 5, songs: 2, artists: 1, evictedSongs: 0,
 *     allTimeSongs: 2, allTimeArtists: 1, dedupIds: 2, dedupBytes: 64, buckets: 4,
 *   }),
 *   streams: () => 1,
 * });
 * const text = await registry.metrics();
 * assert.match(text, /^livecharts_dashboard_messages_read_total 3$/m);
 * assert.match(text, /^livecharts_dashboard_live 1$/m);
 * assert.match(text, /^livecharts_dashboard_history_plays 5$/m);
 * ```
 */
export function dashboardMetrics(
  sources: DashboardSources,
  options: DashboardMetricsOptions = {},
): Registry {
  const registry = createRegistry({ defaultMetrics: options.defaultMetrics ?? true });
  // Totals kept by the feed and the counter, taken at scrape time.
  const counters: [name: string, help: string, read: () => number][] = [
    [
      "livecharts_dashboard_messages_read_total",
      "Kafka messages read (from the committed offsets on)",
      () => sources.feed()?.read ?? 0,
    ],
    [
      "livecharts_dashboard_messages_invalid_total",
      "Messages skipped because they are not valid events",
      () => sources.feed()?.invalid ?? 0,
    ],
    [
      "livecharts_dashboard_plays_counted_total",
      "Distinct plays counted",
      () => sources.counter().counted,
    ],
    [
      "livecharts_dashboard_duplicates_total",
      "Plays ignored because their event_id was already counted",
      () => sources.counter().duplicates,
    ],
    [
      "livecharts_dashboard_late_total",
      "Plays read later than the allowed lateness (counted in all-time only)",
      () => sources.counter().late,
    ],
    [
      "livecharts_dashboard_streams_dropped_total",
      "Streams closed because their viewer stopped reading",
      () => sources.streamsDropped?.() ?? 0,
    ],
  ];
  for (const [name, help, read] of counters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
  const gauges: [name: string, help: string, read: () => number][] = [
    [
      "livecharts_dashboard_live",
      "1 while the numbers are complete (BigQuery's history loaded, Kafka read to its end)",
      () =>
        (sources.status === undefined
            ? sources.feed()?.caughtUp
            : sources.status().state === "live")
          ? 1
          : 0,
    ],
    [
      "livecharts_dashboard_degraded",
      "1 while BigQuery cannot be reached (or its history is missing)",
      () => (sources.status?.().health === "degraded" ? 1 : 0),
    ],
    [
      "livecharts_dashboard_kafka_down",
      "1 while the Kafka reader is down",
      () => (sources.status?.().health === "down" ? 1 : 0),
    ],
    [
      "livecharts_dashboard_history_plays",
      "All-time plays taken from BigQuery's history (below the committed offsets)",
      () => sources.counter().seeded,
    ],
    [
      "livecharts_dashboard_songs",
      "Songs held for the windows (with plays in a window); the others are evicted",
      () => sources.counter().songs,
    ],
    [
      "livecharts_dashboard_artists",
      "Artists held for the windows (with a song held)",
      () => sources.counter().artists,
    ],
    [
      "livecharts_dashboard_all_time_songs",
      "Songs with plays of all time (a count and a name each, in buffers outside the heap)",
      () => sources.counter().allTimeSongs,
    ],
    [
      "livecharts_dashboard_dedup_bytes",
      "Bytes held by the event-id dedup set (ids within the dedup horizon)",
      () => sources.counter().dedupBytes,
    ],
    ["livecharts_dashboard_streams", "Open Server-Sent Events streams", () => sources.streams()],
    [
      "livecharts_dashboard_resident_memory_bytes",
      "Resident set size of the process",
      () => Deno.memoryUsage().rss,
    ],
  ];
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  return registry;
}
