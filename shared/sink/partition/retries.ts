/**
 * Waiting out failures: backoff with its metrics, reporting a blocked
 * destination, retrying Kafka and BigQuery calls, and what a failed
 * BigQuery call means for the table (usable, missing, refused).
 *
 * @module
 */

import type { TableCheck } from "../../bigquery/mod.ts";
import { GrpcStatus } from "../../bigquery/mod.ts";
import { errorMessage } from "../../errors.ts";
import { backoffDelay, sleep } from "../../ops/mod.ts";
import type { Blocked, BlockReason, RetryWhat } from "./context.ts";
import { numericCode, type Problem, type WriterState } from "./state.ts";
import { check } from "./state.ts";

export async function pause(
  w: WriterState,
  what: RetryWhat,
  error: unknown,
  attempt: number,
): Promise<void> {
  const delay = backoffDelay(attempt, w.ctx.backoff);
  w.stats.retries++;
  w.events.retry?.(what, error, attempt, delay);
  // A writer stopped meanwhile (its partition given to a new writer) asks
  // for no pause: nothing of it would ever ask to resume.
  check(w);
  if (!w.waiting) {
    w.waiting = true;
    w.events.backoff?.(w.partition, true);
  }
  await sleep(delay, w.abort.signal);
  check(w);
}

export async function block(w: WriterState, problem: Blocked, attempt: number): Promise<void> {
  if (w.blocked?.reason !== problem.reason || w.blocked.detail !== problem.detail) {
    w.blocked = problem;
    w.events.blocked?.(w.partition, problem);
  }
  await sleep(
    backoffDelay(attempt, { initialMs: 1_000, maxMs: 15_000, ...w.ctx.blockedBackoff }),
    w.abort.signal,
  );
  check(w);
}

export function working(w: WriterState): void {
  w.failures = 0;
  stopWaiting(w);
  if (w.blocked !== undefined) {
    w.blocked = undefined;
    w.events.blocked?.(w.partition, undefined);
  }
}

/** The wait for a transient failure is over: fetching may go on. */
export function stopWaiting(w: WriterState): void {
  if (w.waiting) {
    w.waiting = false;
    w.events.backoff?.(w.partition, false);
  }
}

/** Runs a Kafka call until it succeeds; an error that will not pass fails the writer. */
export async function kafka<T>(
  w: WriterState,
  what: RetryWhat,
  call: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    check(w);
    try {
      const result = await call();
      // Fetching paused for this wait: resume it, even when no append
      // follows (everything held may be appended already, waiting for this).
      if (attempt > 1) stopWaiting(w);
      return result;
    } catch (error) {
      check(w);
      if (!w.ctx.isTransientKafka(error)) throw error;
      await pause(w, what, error, attempt);
    }
  }
}

/** The table's state, retrying lookups BigQuery gave no answer to. */
export async function lookUpTable(w: WriterState): Promise<TableCheck> {
  for (let attempt = 1;; attempt++) {
    check(w);
    try {
      return await w.ctx.table.check();
    } catch (error) {
      check(w);
      await pause(w, "insert", error, attempt);
    }
  }
}

/**
 * Waits until the table is usable: creates it when missing and allowed,
 * else reports the destination blocked and looks again, slowly.
 * Resolves true when the table was created again.
 */
export async function untilTableUsable(w: WriterState, first?: TableCheck): Promise<boolean> {
  let found = first ?? await lookUpTable(w);
  for (let attempt = 1;; attempt++) {
    if (found.status === "ok") return false;
    if (found.status === "missing" && w.ctx.createTable) {
      try {
        await w.ctx.table.recreate();
        return true;
      } catch (error) {
        check(w);
        if (w.destination.isTransient(error)) {
          await pause(w, "insert", error, attempt);
        } else {
          await block(w, {
            reason: "refused",
            detail: `Cannot create the table: ${errorMessage(error)}`,
          }, attempt);
        }
        found = await lookUpTable(w);
        continue;
      }
    }
    const reason: BlockReason = found.status === "missing"
      ? "table-missing"
      : found.status === "denied"
      ? "permission-denied"
      : "refused";
    await block(w, { reason, detail: found.message }, attempt);
    found = await lookUpTable(w);
  }
}

/**
 * Responds to a failed BigQuery call (not a row refusal); resolves once
 * trying again makes sense. The caller then settles the stream (resync).
 */
export async function recoverFrom(w: WriterState, problem: Problem): Promise<void> {
  w.failures++;
  if (problem.retryable) {
    await pause(w, "insert", problem.message, w.failures);
    return;
  }
  if (
    problem.code === GrpcStatus.PERMISSION_DENIED || problem.code === GrpcStatus.UNAUTHENTICATED
  ) {
    await block(w, { reason: "permission-denied", detail: problem.message }, w.failures);
    return;
  }
  const found = await lookUpTable(w);
  if (found.status === "ok") {
    // The table is fine: a stream that went away or was finalized, or
    // something unforeseen. Settling the stream tells what is stored.
    await pause(w, "insert", problem.message, w.failures);
    return;
  }
  await untilTableUsable(w, found);
}

/** Calls BigQuery until it answers; other failures go through {@linkcode recoverFrom}. */
export async function bigquery<T>(w: WriterState, call: () => Promise<T>): Promise<T> {
  for (;;) {
    check(w);
    try {
      return await call();
    } catch (error) {
      check(w);
      await recoverFrom(w, {
        code: numericCode(error),
        message: errorMessage(error),
        retryable: w.destination.isTransient(error),
      });
    }
  }
}
