/**
 * A deadline for one BigQuery call: a request that hangs (a connection the
 * server reset, a stalled emulator) rejects after a bounded time so the
 * caller can retry it, instead of being waited on forever.
 *
 * @module
 */

/** A BigQuery call did not finish before its deadline (worth retrying). */
export class DeadlineExceededError extends Error {
  /** Named like gRPC's status; not an HTTP status, so callers see no server answer. */
  readonly code = "DEADLINE_EXCEEDED";
  /** The deadline that passed, in milliseconds. */
  readonly ms: number;

  constructor(what: string, ms: number) {
    super(`Cannot finish ${what}: no answer from BigQuery within ${ms} ms`);
    this.name = "DeadlineExceededError";
    this.ms = ms;
  }
}

/**
 * Settles like `work`, or rejects with a {@linkcode DeadlineExceededError}
 * after `ms` milliseconds. `work` receives a signal that aborts at the
 * deadline, for calls that can cancel what they started.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeadlineExceededError, withDeadline } from "./deadline.ts";
 * assert.equal(await withDeadline("a query", 1_000, () => Promise.resolve(1)), 1);
 * await assert.rejects(
 *   withDeadline("a query", 10, (signal) =>
 *     new Promise((resolve) => signal.addEventListener("abort", () => resolve(0)))),
 *   DeadlineExceededError,
 * );
 * ```
 */
export function withDeadline<T>(
  what: string,
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`Cannot set a deadline for ${what}: 'ms' must be positive, got ${ms}`);
  }
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineExceededError(what, ms);
      reject(error);
      controller.abort(error);
    }, ms);
  });
  return Promise.race([work(controller.signal), expired]).finally(() => clearTimeout(timer));
}
