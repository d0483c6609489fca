/**
 * The gate in front of the costly reconciliation (full-table
 * `COUNT(DISTINCT)` queries, billed per byte on real BigQuery): one run at a
 * time, shared by every caller, and its answer (or its error) kept for
 * `minIntervalMs`. However often `/api/reconcile` is called, BigQuery is
 * asked at most once per interval.
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import type { Reconciliation } from "./reconcile.ts";

/** A gated answer: the comparison or why it failed, and how fresh it is. */
export interface GatedReconciliation {
  /** The comparison; undefined when it failed. */
  result: Reconciliation | undefined;
  /** Why it failed. */
  error: string | undefined;
  /** Whether it was answered from the cache. */
  cached: boolean;
  /** When the next run may start (ms since the epoch). */
  nextRunAt: number;
}

/** Options of {@linkcode createReconcileGate}. */
export interface ReconcileGateOptions {
  /** Runs the comparison. */
  run: () => Promise<Reconciliation>;
  /** Shortest time between two runs; answers in between come from the cache. */
  minIntervalMs: number;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
}

/** The gate. */
export interface ReconcileGate {
  /**
   * The latest answer, from a new run when the cached one is older than
   * `maxAgeMs` (default and lower bound: the gate's interval, except for
   * `0`, which runs now unless a run is already under way).
   */
  check(maxAgeMs?: number): Promise<GatedReconciliation>;
}

/**
 * Creates the gate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createReconcileGate } from "./reconcile_gate.ts";
 * let runs = 0;
 * const gate = createReconcileGate({
 *   minIntervalMs: 60_000,
 *   run: () => Promise.resolve({ checked_at: String(++runs), equal: true, windows: [] }),
 * });
 * const [a, b] = await Promise.all([gate.check(), gate.check()]);
 * assert.equal(runs, 1);
 * assert.equal((await gate.check()).cached, true);
 * assert.equal(runs, 1);
 * assert.equal(a.result, b.result);
 * ```
 */
export function createReconcileGate(options: ReconcileGateOptions): ReconcileGate {
  const now = options.now ?? Date.now;
  let last: { at: number; result?: Reconciliation; error?: string } | undefined;
  let running: Promise<void> | undefined;

  function answer(cached: boolean): GatedReconciliation {
    return {
      result: last?.result,
      error: last?.error,
      cached,
      nextRunAt: (last?.at ?? now()) + options.minIntervalMs,
    };
  }

  async function runOnce(): Promise<void> {
    const at = now();
    try {
      last = { at, result: await options.run() };
    } catch (error) {
      last = { at, error: errorMessage(error) };
    }
  }

  return {
    async check(maxAgeMs = options.minIntervalMs) {
      if (running !== undefined) {
        await running;
        return answer(false);
      }
      const maxAge = maxAgeMs === 0 ? 0 : Math.max(maxAgeMs, options.minIntervalMs);
      if (last !== undefined && now() - last.at < maxAge) return answer(true);
      running = runOnce().finally(() => (running = undefined));
      await running;
      return answer(false);
    },
  };
}
