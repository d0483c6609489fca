/**
 * The dashboard's progress line: plays taken from BigQuery's history, read
 * from Kafka and counted, the feed's state and the viewers.
 *
 * @module
 */

import { compact, type Progress, rateMeter, startProgress } from "../ops/mod.ts";
import type { LiveFeed } from "./feed/live_feed.ts";
import type { DashboardServer } from "./http/serve_dashboard.ts";

/** What {@linkcode dashboardLine} shows. */
export interface DashboardCounts {
  /** Plays in BigQuery's history (seeded). */
  seeded: number;
  /** Plays read from Kafka. */
  read: number;
  /** Plays counted. */
  counted: number;
  /** The live feed's state. */
  state: string;
  /** Open event streams. */
  viewers: number;
}

/**
 * The dashboard's progress line; `rate` is Kafka plays read per second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardLine } from "./dashboard_progress.ts";
 * assert.equal(
 *   dashboardLine({ seeded: 900, read: 20, counted: 920, state: "live", viewers: 2 }, 5),
 *   "dashboard: history 900 | read 20 | counted 920 | live | 2 viewers | 5/s",
 * );
 * ```
 */
export function dashboardLine(counts: DashboardCounts, rate: number): string {
  return `dashboard: history ${compact(counts.seeded)} | read ${compact(counts.read)}` +
    ` | counted ${compact(counts.counted)} | ${counts.state} | ${counts.viewers} viewers` +
    ` | ${compact(rate)}/s`;
}

/** Starts the dashboard's progress line. */
export function startDashboardProgress(
  feed: Pick<LiveFeed, "stats" | "counter" | "status">,
  server: Pick<DashboardServer, "streams">,
): Progress {
  const meter = rateMeter();
  return startProgress({
    render: () => {
      const read = feed.stats?.read ?? 0;
      const { counted, seeded } = feed.counter().stats;
      const state = feed.status().state;
      return dashboardLine({ seeded, read, counted, state, viewers: server.streams }, meter(read));
    },
  });
}
