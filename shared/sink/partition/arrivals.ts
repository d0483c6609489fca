/**
 * What a writer takes from the source: only messages that follow on from
 * the committed offset read at start. Batches wait here until that offset
 * is known; a batch that leaves a gap is judged by the partition's log
 * start: retention made the gap (taken, with a warning), or the batch is
 * stale, fetched before a rebalance from an older position (dropped, and the
 * partition fetched again from the next offset to store).
 *
 * @module
 */

import { logger } from "../../ops/mod.ts";
import { kafka } from "./retries.ts";
import { type Arrival, check, messageBytes, type WriterState } from "./state.ts";

const log = logger("consumer");

/**
 * Takes the batches that follow on from `next` (messages below it are
 * repeats: dropped); stops at the first batch that leaves a gap, which
 * {@linkcode checkStart} judges.
 */
export function admit(w: WriterState): void {
  while (w.next !== undefined && w.arrivals.length > 0) {
    const batch = w.arrivals[0]!;
    if (batch.from > w.next) return;
    w.arrivals.shift();
    release(w, batch);
    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      if (offset < w.next) continue;
      w.next = offset + 1n;
      const bytes = messageBytes(message);
      w.units.push({
        offset,
        message,
        bytes,
        at: batch.at,
        decoded: false,
        fitted: false,
        // Every field from the start: units keep one shape as they move on.
        row: undefined,
        letter: undefined,
        kind: undefined,
        stored: false,
        counted: false,
        published: false,
        barrier: false,
        after: undefined,
      });
      w.unsentBytes += bytes;
      w.heldBytes += bytes;
      w.stats.consumed++;
    }
  }
}

export function release(w: WriterState, batch: Arrival): void {
  w.heldBytes -= batch.bytes;
  w.arrivedMessages -= batch.messages.length;
}

/**
 * Once the committed position is known, takes what follows on from it; a
 * batch at a gap is taken only when the partition's log start says that
 * retention deleted the gap, and is otherwise stale (fetched before a
 * rebalance, from a position past the committed offset): it is dropped
 * and the partition fetched again from the next offset to store.
 * Resolves true when it did something.
 */
export async function checkStart(w: WriterState): Promise<boolean> {
  const logStart = w.io.logStart;
  if (w.next === undefined) {
    // Never committed: the group starts at the earliest retained record.
    w.next = w.startAt ??
      (logStart === undefined ? w.arrivals[0]?.from : await kafka(w, "commit", () => logStart()));
    check(w);
    if (w.next === undefined) return false;
    admit(w);
    idleIfEmpty(w);
    return true;
  }
  const batch = w.arrivals[0];
  if (batch === undefined) return false;
  const expected = w.next;
  const low = logStart === undefined ? undefined : await kafka(w, "commit", () => logStart());
  check(w);
  if (low !== undefined && low > expected) {
    log.warn(
      "Partition {partition}: messages from offset {from} to {to} are gone (retention) before they were stored",
      { partition: w.partition, from: String(expected), to: String(low - 1n) },
    );
    if (w.skip !== undefined) {
      log.warn(
        "Partition {partition}: which of the messages gone were stored is unknown, so no row is skipped (at least once for this gap)",
        { partition: w.partition },
      );
      w.skip = undefined;
    }
    w.next = low;
  }
  if (batch.from > w.next) {
    w.arrivals.shift();
    release(w, batch);
    w.stats.staleBatches++;
    log.warn(
      "Partition {partition}: dropped a stale batch of {count} messages fetched from offset {from} (before a rebalance): fetching again from offset {next}",
      {
        partition: w.partition,
        count: batch.messages.length,
        from: String(batch.from),
        next: String(w.next),
      },
    );
    w.io.seek?.(w.next);
  }
  admit(w);
  idleIfEmpty(w);
  return true;
}

/** Wakes `drain()` callers once nothing is held. */
export function idleIfEmpty(w: WriterState): void {
  if (w.units.length === 0 && w.arrivals.length === 0) {
    for (const wakeUp of w.idle.splice(0)) wakeUp();
  }
}
