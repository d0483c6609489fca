/**
 * Do the next rows fit the table? Before rows are appended (or counted as
 * stored on a re-read), each pass-through field must have a column: a field
 * the table lacks gets one (NULLABLE, its type from the value first seen,
 * added once for every partition), a value whose type conflicts with its
 * column turns its message into a `schema-conflict` dead letter, and rows
 * that name a column the current stream's rows were not described with
 * go to a new stream (the current one is settled by its row count first).
 *
 * The verdict on a message depends only on the table's columns, which
 * only grow and never change type: the same message read again after a
 * crash gets the same verdict, so skipping by count stays exact.
 *
 * @module
 */

import { type Column, columnFor, columnTypeOf, fitsColumn, PLAYS_COLUMNS } from "../../schema.ts";
import { logger } from "../../ops/mod.ts";
import { conflictLetter } from "../sink.ts";
import { decode, nextChunkLength } from "./held.ts";
import { bigquery } from "./retries.ts";
import { Stopped, type Unit, type WriterState } from "./state.ts";
import { resync } from "./streams.ts";

const log = logger("consumer");

/**
 * What the next chunk needs: `ready` (its units are fitted and the stream
 * takes their columns), `progress` (something was done: look again), or
 * `wait` (appends in flight must be answered before the stream can change).
 * `forSkip`: the rows are only counted, not appended (no stream needed).
 */
export async function fitNext(
  w: WriterState,
  forSkip: boolean,
): Promise<"ready" | "progress" | "wait"> {
  const columns = w.columns;
  if (columns.known === undefined || columns.loadedFor !== w.ctx.table.createdAt) {
    const createdAt = w.ctx.table.createdAt;
    await bigquery(w, () => unlessStopped(w, columns.load(createdAt)));
    return "progress";
  }
  const known = columns.known;
  const chunk = w.units.slice(w.sent, w.sent + nextChunkLength(w, true));
  const missing = new Map<string, Column>();
  for (const unit of chunk) {
    if (unit.fitted) continue;
    decode(w, unit);
    const fields = unit.row?.fields;
    if (fields === undefined) continue; // most rows: nothing to fit
    for (const [name, value] of Object.entries(fields)) {
      const key = name.toLowerCase();
      if (known.has(key) || missing.has(key)) continue;
      const column = columnFor(name, value);
      if (column !== undefined) missing.set(key, column);
    }
  }
  if (missing.size > 0) {
    await bigquery(w, () => unlessStopped(w, columns.add([...missing.values()])));
    return "progress";
  }
  for (const unit of chunk) if (!unit.fitted) fit(w, unit, known);
  const open = w.stream;
  if (forSkip || open === undefined) return "ready";
  const described = open.columns ?? PLAYS_NAMES;
  const beyond = chunk.some((unit) => {
    const fields = unit.row?.fields;
    return fields !== undefined &&
      Object.keys(fields).some((name) => !described.has(name.toLowerCase()));
  });
  if (!beyond) return "ready";
  if (w.window.length > 0) return "wait";
  log.info(
    "Partition {partition}: rows name columns added since write stream {stream} was opened; continuing in a new stream",
    { partition: w.partition, stream: open.name },
  );
  await resync(w);
  return "progress";
}

const PLAYS_NAMES: ReadonlySet<string> = new Set(
  PLAYS_COLUMNS.map((column) => column.name.toLowerCase()),
);

/** `promise`, or {@linkcode Stopped} as soon as the writer stops (a shutdown does not wait for it). */
function unlessStopped<T>(w: WriterState, promise: Promise<T>): Promise<T> {
  const signal = w.abort.signal;
  if (signal.aborted) return Promise.reject(new Stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Stopped());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Gives `unit` its verdict against `known` columns: its row, or a schema-conflict letter. */
function fit(w: WriterState, unit: Unit, known: ReadonlyMap<string, Column>): void {
  unit.fitted = true;
  const row = unit.row;
  if (row?.fields === undefined) return;
  for (const [name, value] of Object.entries(row.fields)) {
    const column = known.get(name.toLowerCase());
    if (column === undefined || fitsColumn(value, column.type)) continue;
    unit.row = undefined;
    unit.letter = conflictLetter(w.ctx.topic, w.partition, unit.message, {
      field: name,
      columnType: column.type,
      valueType: columnTypeOf(value) ?? "NULL",
    });
    unit.kind = "schema-conflict";
    return;
  }
}
