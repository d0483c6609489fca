/**
 * Reconciliation: the dashboard's counts against BigQuery's
 * `COUNT(DISTINCT event_id)` for every window, run when the feed is quiet
 * and asked through `/api/reconcile` behind a gate (cached, at most one
 * full-table query per interval).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareCounts } from "./mod.ts";
 * const differences = compareCounts(new Map([["tony-allen/1", 2]]), new Map([["tony-allen/1", 3]]));
 * assert.equal(differences.length, 1);
 * ```
 *
 * @module
 */

export { compareCounts, reconcile, type Reconciliation } from "./reconcile.ts";
export { createReconcileGate, type ReconcileGate } from "./reconcile_gate.ts";
export { reconcileWhenQuiet } from "./reconcile_loop.ts";
