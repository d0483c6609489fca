/**
 * Retries with capped exponential backoff and full jitter.
 *
 * @module
 */

/** Backoff settings. */
export interface BackoffOptions {
  /** First delay in milliseconds (default 200). */
  initialMs?: number;
  /** Largest delay in milliseconds (default 10 000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Random number in [0, 1) used for jitter (default `Math.random`). */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (1 for the first retry): the capped
 * exponential `min(maxMs, initialMs * factor^(attempt-1))`, jittered to
 * between half of it and all of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./retry.ts";
 * assert.equal(backoffDelay(1, { initialMs: 100, random: () => 0.999 }), 100);
 * assert.equal(backoffDelay(1, { initialMs: 100, random: () => 0 }), 50);
 * assert.equal(backoffDelay(20, { maxMs: 5_000, random: () => 0.9999999 }), 5000);
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(
      `Cannot compute backoff: 'attempt' must be a positive integer, got ${attempt}`,
    );
  }
  const initial = options.initialMs ?? 200;
  const max = options.maxMs ?? 10_000;
  const factor = options.factor ?? 2;
  const capped = Math.min(max, initial * factor ** (attempt - 1));
  const random = options.random ?? Math.random;
  return Math.round(capped / 2 + (capped / 2) * Math.min(1, random() * 1.000001));
}

/** Options of {@linkcode retry}. */
export interface RetryOptions extends BackoffOptions {
  /** Whether an error is worth retrying; others are thrown at once. */
  isTransient: (error: unknown) => boolean;
  /** Called before each wait, e.g. to log, count or heartbeat. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void | Promise<void>;
  /** Gives up (throwing the last error) once aborted. */
  signal?: AbortSignal;
  /** Most attempts in all (default: unlimited). */
  maxAttempts?: number;
  /** Sleeps; replaceable in tests (default: a timer that the signal cuts short). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Waits `ms` milliseconds, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Calls `fn` until it succeeds, retrying transient errors with backoff.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retry } from "./retry.ts";
 * let calls = 0;
 * const value = await retry(() => {
 *   if (++calls < 3) throw new Error("busy");
 *   return Promise.resolve("ok");
 * }, { isTransient: () => true, initialMs: 1 });
 * assert.equal(value, "ok");
 * assert.equal(calls, 3);
 * ```
 */
export async function retry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const last = options.maxAttempts !== undefined && attempt >= options.maxAttempts;
      if (!options.isTransient(error) || last || options.signal?.aborted) throw error;
      const delay = backoffDelay(attempt, options);
      await options.onRetry?.(error, attempt, delay);
      await wait(delay, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}
