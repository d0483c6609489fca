/**
 * HTTP: the page, `/api/top` and its exports, the paged overview and
 * artists, the live streams (one document per view and tick, capped in all
 * and per client), `/healthz`, and who may reach what (loopback by default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTopQuery } from "./mod.ts";
 * assert.deepEqual(parseTopQuery(new URLSearchParams("artist=tony-allen&window=1h")), {
 *   artist: "tony-allen",
 *   window: "1h",
 *   limit: 10,
 * });
 * ```
 *
 * @module
 */

export {
  createDashboardHandler,
  type DashboardHandler,
  type HealthAnswer,
  parseTopQuery,
} from "./server.ts";
export { type DashboardServer, serveDashboard } from "./serve_dashboard.ts";
export { createStreamGate, DEFAULT_STREAM_CAPS, type StreamCaps } from "./stream_gate.ts";
export { type TopDocument, topDocument } from "./top_document.ts";
