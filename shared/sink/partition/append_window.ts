/**
 * The append window: appends in flight on the current stream, acknowledged
 * in order. A retryable failure sends the same appends again on the same
 * stream (`already-exists` then means stored); any other failure is settled
 * by the stream's row count (streams.ts); a refusal is isolated (refusals.ts).
 *
 * @module
 */

import { GrpcStatus } from "../../bigquery/mod.ts";
import { errorMessage } from "../../errors.ts";
import type { PlayRow } from "../../schema.ts";
import {
  type Inflight,
  isRefusal,
  notify,
  type OpenStream,
  type Problem,
  problemOf,
  type Unit,
  type WriterState,
} from "./state.ts";
import { decode, markStored, refuse } from "./held.ts";
import { isolate } from "./refusals.ts";
import { settleIfChanged } from "./schema_fit.ts";
import { pause, recoverFrom, working } from "./retries.ts";
import { check } from "./state.ts";
import { holdCommits } from "./commits.ts";
import { logger } from "../../ops/mod.ts";

const log = logger("consumer");
import { resync } from "./streams.ts";

export function send(w: WriterState, chunk: Unit[]): void {
  const open = w.stream!;
  const rows: PlayRow[] = [];
  const owners: Unit[] = [];
  const offset = open.next;
  for (const unit of chunk) {
    decode(w, unit);
    if (w.known?.offsets.has(unit.offset)) {
      // BigQuery holds its row already (a query said so): neither a row nor a letter.
      if (unit.row !== undefined) w.stats.skipped++;
      unit.row = undefined;
      unit.letter = undefined;
      unit.counted = true;
    }
    if (unit.row !== undefined) {
      rows.push(unit.row);
      owners.push(unit);
    }
    unit.after = { stream: open.name, row: offset + rows.length };
  }
  open.next += rows.length;
  const inflight: Inflight = {
    units: chunk,
    rows,
    owners,
    offset,
    started: performance.now(),
    promise: Promise.resolve(),
    resent: false,
  };
  if (rows.length === 0) {
    inflight.result = { status: "ok", offset, rows: 0 };
  } else {
    open.used = true;
    appendNow(w, open, inflight);
  }
  w.window.push(inflight);
}

/** Sends `inflight`'s rows at its offset. */
export function appendNow(w: WriterState, open: OpenStream, inflight: Inflight): void {
  inflight.result = undefined;
  inflight.started = performance.now();
  inflight.promise = open.rs.append(inflight.rows, inflight.offset).then(
    (result) => void (inflight.result = result),
    (error) =>
      void (inflight.result = {
        status: "failed",
        code: GrpcStatus.UNKNOWN,
        message: errorMessage(error),
        retryable: true,
      }),
  ).finally(() => notify(w));
}

/**
 * A retryable failure (no answer, a deadline, a busy BigQuery): waits, then
 * sends every append of the window not acknowledged again, unchanged, on
 * the same stream. Rows stored before come back as `already-exists`; a
 * stream that is really gone answers so, and only then is a new one opened.
 */
export async function resend(w: WriterState, problem: Problem): Promise<void> {
  w.failures++;
  w.stats.resent++;
  await pause(w, "insert", problem.message, w.failures);
  const open = w.stream!;
  for (const inflight of w.window) {
    if (inflight.result?.status === "ok") continue;
    inflight.resent = true;
    appendNow(w, open, inflight);
  }
}

export function acknowledge(w: WriterState, inflight: Inflight): void {
  const result = inflight.result!;
  // BigQuery says the table's schema changed: read the columns before the next rows.
  if (result.status === "ok" && result.schemaUpdated === true) w.columns.markStale();
  if (result.status === "ok" && result.refused !== undefined && result.refused.length > 0) {
    // insertAll stored the others.
    for (const { index, reason } of result.refused) {
      const unit = inflight.owners[index];
      if (unit !== undefined) refuse(w, unit, reason);
    }
  }
  for (const unit of inflight.units) markStored(w, unit);
  if (inflight.rows.length > 0) {
    const millis = performance.now() - inflight.started;
    w.stats.batches++;
    w.stats.lastBatchRows = inflight.rows.length;
    w.stats.lastInsertMs = millis;
    w.events.stored?.(result.status === "ok" ? result.rows : inflight.rows.length, millis);
    w.events.acknowledged?.(w.partition);
  }
}

export async function handleHead(w: WriterState): Promise<void> {
  const head = w.window[0]!;
  if (head.resent && head.result!.status === "already-exists") {
    // Sent again after a lost answer: the first send was stored.
    head.result = { status: "ok", offset: head.offset, rows: head.rows.length };
  }
  const result = head.result!;
  if (result.status === "ok" && !isRefusal(result)) {
    w.window.shift();
    acknowledge(w, head);
    if (head.rows.length > 0) working(w);
    return;
  }
  await Promise.all(w.window.map((inflight) => inflight.promise));
  check(w);
  if (result.status === "failed" && result.finalized === true && !w.fenced) fence(w, result);
  // A column dropped or retyped under the stream (real BigQuery refuses the
  // append, SCHEMA_MISMATCH_EXTRA_FIELDS; the local one fails it) is neither
  // rows refused nor a stream to trust the row count of.
  if (!(result.status === "failed" && result.retryable) && await settleIfChanged(w)) return;
  if (isRefusal(result)) {
    const later = w.window.slice(1);
    if (later.some((inflight) => inflight.result?.status === "ok" && inflight.rows.length > 0)) {
      // Stored after a refused append? Offsets say it cannot be: settle.
      await recoverFrom(w, problemOf(result));
      await resync(w);
      return;
    }
    w.window = [];
    // Nothing from the refused append on is stored: send it all again.
    const index = w.units.indexOf(head.units[0]!);
    for (let i = index; i < w.sent; i++) w.unsentBytes += w.units[i]!.bytes;
    w.sent = index;
    w.stream!.next = head.offset;
    await isolate(w, head, result);
    return;
  }
  if (result.status === "failed" && result.retryable && w.stream !== undefined) {
    await resend(w, problemOf(result));
    return;
  }
  const problem = problemOf(result);
  await recoverFrom(w, problem);
  // An append that failed for no known reason may have been counted by the
  // stream without being stored (the local BigQuery does so when its insert
  // fails): ask BigQuery which rows it holds rather than trust the count.
  await resync(w, { ask: problem.code === GrpcStatus.UNKNOWN });
}

/**
 * The open stream was finalized, and not by this writer: another consumer
 * took the partition over (this one was paused past its session, say) and
 * fenced the stream off. Writing on in a new stream would store again what
 * the new owner stores: nothing more is sent or committed until the group
 * confirms who owns the partition (`keep()`) or stops this writer.
 */
function fence(w: WriterState, result: { message: string }): void {
  w.fenced = true;
  holdCommits(w);
  log.warn(
    "Partition {partition}: write stream {stream} was finalized by another consumer, which owns the partition now: writing and committing nothing more here until the group says who owns it",
    { partition: w.partition, stream: w.stream?.name ?? "", reason: result.message },
  );
}
