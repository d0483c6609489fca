/**
 * Stuck detection for `/healthz`: a consumer is unhealthy when it made no
 * progress (no commit) for a while although it has work to do (lag > 0), or
 * when nobody knows whether it has work (the lag could not be measured).
 * An idle consumer that is caught up is healthy however long it waits.
 *
 * Pure: the caller passes the clock.
 *
 * @module
 */

export { healthOptions } from "./options.ts";

/** What {@linkcode checkHealth} looks at. */
export interface HealthInput {
  /** Now, in epoch milliseconds. */
  now: number;
  /** Last progress (a commit, or the start), in epoch milliseconds. */
  lastProgressAt: number;
  /** Messages behind on the partitions this consumer owns; undefined when unknown. */
  lag: bigint | undefined;
  /** When `lag` was measured; a measurement older than `stuckAfterMs` counts as unknown. */
  lagMeasuredAt?: number | undefined;
  /** How long without progress while behind makes the consumer stuck. */
  stuckAfterMs: number;
}

/** The verdict, with a reason for people. */
export interface Health {
  healthy: boolean;
  /** `blocked`: the destination cannot take rows (set by the consumer, not by {@linkcode checkHealth}). */
  status: "ok" | "stuck" | "blocked";
  reason: string;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/**
 * Decides whether a consumer is stuck.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHealth } from "./health.ts";
 * const stuck = checkHealth({
 *   now: 200_000, lastProgressAt: 50_000, lag: 42n, lagMeasuredAt: 199_000, stuckAfterMs: 120_000,
 * });
 * assert.equal(stuck.healthy, false);
 * assert.equal(stuck.reason, "No progress for 150 s with 42 messages behind (stuck after 120 s)");
 * ```
 */
export function checkHealth(input: HealthInput): Health {
  if (!Number.isFinite(input.stuckAfterMs) || input.stuckAfterMs <= 0) {
    throw new RangeError(
      `Cannot check health: 'stuckAfterMs' must be a positive number, got ${input.stuckAfterMs}`,
    );
  }
  const quietMs = Math.max(0, input.now - input.lastProgressAt);
  if (quietMs < input.stuckAfterMs) {
    return { healthy: true, status: "ok", reason: `Last progress ${seconds(quietMs)} ago` };
  }
  const measuredAgo = input.lagMeasuredAt === undefined
    ? undefined
    : Math.max(0, input.now - input.lagMeasuredAt);
  const known = input.lag !== undefined &&
    (measuredAgo === undefined || measuredAgo < input.stuckAfterMs);
  if (known && input.lag === 0n) {
    return { healthy: true, status: "ok", reason: "Caught up (lag 0)" };
  }
  if (!known) {
    const when = measuredAgo === undefined || input.lag === undefined
      ? "never measured"
      : `last measured ${seconds(measuredAgo)} ago`;
    return {
      healthy: false,
      status: "stuck",
      reason: `No progress for ${seconds(quietMs)} and the lag is unknown (${when}; stuck after ${
        seconds(input.stuckAfterMs)
      })`,
    };
  }
  return {
    healthy: false,
    status: "stuck",
    reason: `No progress for ${seconds(quietMs)} with ${input.lag} message${
      input.lag === 1n ? "" : "s"
    } behind (stuck after ${seconds(input.stuckAfterMs)})`,
  };
}
