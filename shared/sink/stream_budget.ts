/**
 * How many write streams a partition may create: BigQuery allows about
 * 10,000 `CreateWriteStream` calls per hour per project and region, so a
 * partition that keeps failing must not open a stream per failure.
 *
 * A token bucket per partition: `burst` creations at once, then one every
 * `refillMs`. The writer only opens a new stream when the old one is really
 * gone or ended (a failed append is re-sent on the same stream), so the
 * bucket is a ceiling for the unforeseen, not the normal path.
 *
 * @module
 */

import { sleep } from "../ops/mod.ts";

/** Options of {@linkcode createStreamBudget}. */
export interface StreamBudgetOptions {
  /** Creations allowed at once (default 10). */
  burst?: number;
  /** One more creation is allowed every this many milliseconds (default 30 000: at most 120 an hour after the burst). */
  refillMs?: number;
  /** The clock (default `Date.now`). */
  now?: () => number;
}

/** One partition's allowance of stream creations. */
export interface StreamBudget {
  /** Milliseconds until the next creation is allowed (0: now). */
  waitMs(): number;
  /** Takes one creation, waiting until it is allowed; resolves at once, taking nothing, when `signal` aborts. */
  take(signal?: AbortSignal): Promise<void>;
}

/** The default burst of {@linkcode createStreamBudget}. */
export const DEFAULT_STREAM_BURST = 10;
/** The default refill interval of {@linkcode createStreamBudget}. */
export const DEFAULT_STREAM_REFILL_MS = 30_000;

/**
 * A token bucket of stream creations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createStreamBudget } from "./stream_budget.ts";
 * let clock = 0;
 * const budget = createStreamBudget({ burst: 2, refillMs: 1_000, now: () => clock });
 * await budget.take();
 * await budget.take();
 * assert.equal(budget.waitMs(), 1_000);
 * clock = 1_500;
 * assert.equal(budget.waitMs(), 0);
 * await budget.take();
 * assert.equal(budget.waitMs(), 500);
 * ```
 */
export function createStreamBudget(options: StreamBudgetOptions = {}): StreamBudget {
  const burst = options.burst ?? DEFAULT_STREAM_BURST;
  const refillMs = options.refillMs ?? DEFAULT_STREAM_REFILL_MS;
  const now = options.now ?? Date.now;
  if (!Number.isInteger(burst) || burst < 1) {
    throw new RangeError(`Cannot limit stream creations: 'burst' must be at least 1, got ${burst}`);
  }
  if (!(refillMs > 0)) {
    throw new RangeError(
      `Cannot limit stream creations: 'refillMs' must be positive, got ${refillMs}`,
    );
  }
  let tokens = burst;
  let last = now();

  function refill(): void {
    const at = now();
    const earned = Math.floor((at - last) / refillMs);
    if (earned <= 0) return;
    tokens = Math.min(burst, tokens + earned);
    last = tokens === burst ? at : last + earned * refillMs;
  }

  function waitMs(): number {
    refill();
    return tokens > 0 ? 0 : Math.max(0, last + refillMs - now());
  }

  return {
    waitMs,
    async take(signal) {
      for (let wait = waitMs(); wait > 0; wait = waitMs()) {
        if (signal?.aborted) return;
        // Looks again each second: the clock may be moved (tests) or the wait cut short.
        await sleep(Math.min(wait, 1_000), signal);
      }
      if (tokens === burst) last = now();
      tokens--;
    },
  };
}
