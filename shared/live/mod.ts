/**
 * The dashboard: BigQuery's aggregated history below the BigQuery consumer's
 * committed offsets (the anchors) plus the play feed from Kafka from there
 * on, counted in sliding event-time windows with their top-N; the live feed
 * that builds and re-anchors the counts, the HTTP/SSE server, reconciliation
 * against BigQuery behind a gate, the `top_songs` view for Looker Studio, and
 * the dashboard's metrics and progress line.
 *
 * By idea, in flow order: `feed/` (history and Kafka into the counts),
 * `counting/` (the windows and all time), `http/` (the page, the API and
 * the streams), `reconcile/` (against BigQuery); here the options, the
 * metrics, the progress line, the crash backoff and the view.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardOptions } from "./mod.ts";
 * assert.equal(dashboardOptions.port.flag, "port");
 * ```
 *
 * @module
 */

export { waitOutCrashLoop } from "./crash_backoff.ts";
export { startDashboardProgress } from "./dashboard_progress.ts";
export { createLiveFeed, type LiveFeed } from "./feed/mod.ts";
export { dashboardOptions, viewOptions } from "./options.ts";
export {
  createReconcileGate,
  reconcile,
  type ReconcileGate,
  reconcileWhenQuiet,
} from "./reconcile/mod.ts";
export { type DashboardServer, serveDashboard } from "./http/mod.ts";
export { ensureTopSongsViewSoon } from "./top_songs_view.ts";
