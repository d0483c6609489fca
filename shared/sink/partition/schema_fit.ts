/**
 * Do the next rows fit the table? Before rows are appended (or counted as
 * stored on a re-read), each pass-through field must have a column: a field
 * the table lacks gets one (NULLABLE, its type from the value first seen,
 * added once for every partition), a value whose type conflicts with its
 * column turns its message into a `schema-conflict` dead letter, and rows
 * that name a column the current stream's rows were not described with
 * go to a new stream (the current one is settled by its row count first).
 *
 * Someone may drop or retype a column by hand while the consumer runs. The
 * columns are read again when they are older than the look-again interval,
 * when an append fails or is refused, and when BigQuery says the schema
 * changed. A stream described with a column the table no longer has, or
 * has with another type, is settled (finalized, then BigQuery is asked which
 * of its rows it holds) and the rows after them are fitted again to the
 * current columns: a dropped pass-through column is added again (or the
 * field goes to `extra` or is dropped, as the policy says), values that no
 * longer fit a retyped column become `schema-conflict` dead letters. A core
 * column missing or of another type means no row can fit: the writer
 * blocks, opening no stream, until the table is fixed.
 *
 * The verdict on a message depends only on the table's columns: the same
 * message read again after a crash gets the same verdict unless the
 * columns were changed by hand meanwhile.
 *
 * @module
 */

import { noRowFits } from "../../bigquery/mod.ts";
import { type Column, columnFor, columnTypeOf, fitsColumn, PLAYS_COLUMNS } from "../../schema.ts";
import { logger } from "../../ops/mod.ts";
import { conflictLetter } from "../sink.ts";
import { DEFAULT_SCHEMA_CHECK_MS } from "./context.ts";
import { decode, nextChunkLength } from "./held.ts";
import { bigquery, block } from "./retries.ts";
import { type OpenStream, Stopped, type Unit, type WriterState } from "./state.ts";
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
  const maxAge = w.ctx.schemaCheckMs ?? DEFAULT_SCHEMA_CHECK_MS;
  // A new stream is described with the columns as they are now.
  const recheck = w.recheck && w.stream === undefined;
  w.recheck &&= !recheck;
  if (recheck || Date.now() - columns.loadedAt >= maxAge) {
    await bigquery(w, () => unlessStopped(w, columns.refresh(recheck ? 0 : maxAge)));
    return "progress";
  }
  const open = w.stream;
  const problem = noRowFits(columns.all());
  if (problem !== undefined || (open !== undefined && changedUnder(w, open) !== undefined)) {
    if (open !== undefined) {
      if (w.window.length > 0) return "wait";
      await settleChanged(w, open);
      return "progress";
    }
    if (problem !== undefined) {
      // No row can fit: wait for the table to be fixed, opening no stream.
      w.failures++;
      await block(w, {
        reason: "schema-mismatch",
        detail:
          `no row fits the table's columns (${problem}); no write stream is opened until it is fixed`,
      }, w.failures);
      await bigquery(w, () => unlessStopped(w, columns.refresh()));
      return "wait";
    }
  }
  if (w.fittedVersion !== columns.version) {
    refit(w);
    w.fittedVersion = columns.version;
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

/**
 * After an append failed or was refused: reads the table's columns again and,
 * when the open stream is described with a column the table no longer has
 * (or has with another type), settles it as {@linkcode fitNext} does. True
 * when it did (the failure is handled).
 */
export async function settleIfChanged(w: WriterState): Promise<boolean> {
  const open = w.stream;
  if (open === undefined) return false;
  await bigquery(w, () => unlessStopped(w, w.columns.refresh()));
  if (w.stream !== open) return false;
  if (changedUnder(w, open) === undefined && noRowFits(w.columns.all()) === undefined) {
    return false;
  }
  await settleChanged(w, open);
  return true;
}

/**
 * What changed under `open`: its columns the table no longer has, or has
 * with another type (`country dropped, duration_ms INT64 → STRING`), or
 * undefined when nothing did. A core column of another type counts too.
 */
function changedUnder(w: WriterState, open: OpenStream): string | undefined {
  const known = w.columns.known;
  if (known === undefined) return undefined;
  const changes: string[] = [];
  for (const [name, type] of open.types) {
    const column = known.get(name);
    if (column === undefined) changes.push(`${name} dropped`);
    else if (column.type !== type) changes.push(`${column.name} ${type} → ${column.type}`);
  }
  return changes.length === 0 ? undefined : changes.join(", ");
}

/**
 * Settles `open` after its columns changed under it: finalized, BigQuery
 * asked which of its rows it holds, and the rows after them fitted again.
 */
async function settleChanged(w: WriterState, open: OpenStream): Promise<void> {
  log.warn(
    "Partition {partition}: the table's columns changed under write stream {stream} ({changes}): settling it and fitting the rows after the stored ones to the current columns",
    {
      partition: w.partition,
      stream: open.name,
      changes: changedUnder(w, open) ?? noRowFits(w.columns.all()) ?? "",
    },
  );
  await resync(w, { ask: true });
  refit(w);
  w.fittedVersion = w.columns.version;
}

/**
 * Forgets the verdicts of the units not yet sent, so that they are decoded
 * and fitted again to the current columns. A dead letter already published,
 * or one that is not about the schema (an invalid event, a row BigQuery
 * refused), stays as it is.
 */
function refit(w: WriterState): void {
  for (let i = w.sent; i < w.units.length; i++) {
    const unit = w.units[i]!;
    if (unit.published || (unit.kind !== undefined && unit.kind !== "schema-conflict")) continue;
    unit.decoded = false;
    unit.fitted = false;
    unit.row = undefined;
    unit.letter = undefined;
    unit.kind = undefined;
  }
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
