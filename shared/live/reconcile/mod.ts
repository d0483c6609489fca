/**
 * Reconciliation: the dashboard's counts against BigQuery's
 * `COUNT(DISTINCT event_id)` for every window, run when the feed is quiet
 * and asked through `/api/reconcile` behind a gate (cached, at most one
 * full-table query per interval).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareSongs } from "./mod.ts";
 * const songs = { findSong: () => 0, songBySerial: () => ({ artist: "tony-allen", song_id: 1 }) };
 * const comparison = compareSongs(new Float64Array([2]), songs);
 * comparison.bigquery("tony-allen", 1, 3);
 * assert.equal(comparison.finish().different, 1);
 * ```
 *
 * @module
 */

export { compareSongs, reconcile, type Reconciliation } from "./reconcile.ts";
export { createReconcileGate, type ReconcileGate } from "./reconcile_gate.ts";
export { reconcileWhenQuiet } from "./reconcile_loop.ts";
