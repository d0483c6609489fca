/**
 * Which write stream the rows go to: creations within the partition's
 * allowance, and settling what is stored after a failure by finalizing the
 * stream (its row count is the truth) or, when it is gone, by asking
 * BigQuery which offsets it holds.
 *
 * @module
 */

import { logger } from "../../ops/mod.ts";
import { PLAYS_COLUMNS } from "../../schema.ts";
import { INSERT_ALL_STREAM, isRefusal, type WriterState } from "./state.ts";
import { acknowledge } from "./append_window.ts";
import { markStored, rewind } from "./held.ts";
import { rememberStored, storedOffsetsFrom } from "./resume.ts";
import { bigquery, lookUpTable, untilTableUsable } from "./retries.ts";
import { check } from "./state.ts";

const log = logger("consumer");

const PLAYS_NAMES: ReadonlySet<string> = new Set(
  PLAYS_COLUMNS.map((column) => column.name.toLowerCase()),
);

/** Creates a write stream within the partition's allowance of creations. */
export function createStream<T>(
  w: WriterState,
  kind: "committed" | "probe",
  create: () => Promise<T>,
): Promise<T> {
  return bigquery(w, async () => {
    const budget = w.ctx.streamBudget;
    const wait = budget?.waitMs() ?? 0;
    if (wait > 0) {
      log.warn(
        "Partition {partition}: opened its allowance of write streams; waiting {seconds} s before opening another (BigQuery limits stream creations per project)",
        { partition: w.partition, seconds: Math.ceil(wait / 1000) },
      );
    }
    await budget?.take(w.abort.signal);
    check(w);
    w.stats.streamsCreated++;
    w.events.streamCreated?.(w.partition, kind);
    return await create();
  });
}

export async function openStream(w: WriterState): Promise<void> {
  // The plays columns as livecharts writes them, then the pass-through
  // columns as the table has them (their types decide how values are sent).
  const columns = w.columns.known === undefined ? undefined : [
    ...PLAYS_COLUMNS,
    ...w.columns.all().filter((column) => !PLAYS_NAMES.has(column.name.toLowerCase())),
  ];
  const rs = await createStream(w, "committed", () => w.destination.openStream(columns));
  w.stream = {
    columns: columns === undefined
      ? undefined
      : new Set(columns.map((column) => column.name.toLowerCase())),
    // As the table has them now: a change is one made after this stream
    // opened (a plays column of another type from the start is BigQuery's
    // to convert or refuse row by row).
    types: new Map((columns ?? PLAYS_COLUMNS).map((column) => {
      const name = column.name.toLowerCase();
      return [name, w.columns.known?.get(name)?.type ?? column.type];
    })),
    rs,
    name: rs.name ?? INSERT_ALL_STREAM,
    next: 0,
    used: false,
    announced: !w.exactlyOnce,
    createdAt: w.ctx.table.createdAt,
  };
}

/**
 * Settles what is stored after a failure: finalizes the stream (its row
 * count is the truth), or, when it is gone, keeps what was acknowledged
 * and writes the rest again. The next append opens a new stream.
 *
 * `ask`: the table's columns changed under the stream: after finalizing it,
 * ask BigQuery which offsets it holds instead of trusting the row count (the
 * local BigQuery counts the rows of an append it failed to store), and fall
 * back to the count only when it cannot be asked.
 */
export async function resync(w: WriterState, options: { ask?: boolean } = {}): Promise<void> {
  await Promise.all(w.window.map((inflight) => inflight.promise));
  // Acknowledged appends at the head are stored; after a failure the
  // answers of later appends are not trusted: the stream's count decides.
  while (w.window[0]?.result?.status === "ok" && !isRefusal(w.window[0].result)) {
    acknowledge(w, w.window.shift()!);
  }
  w.window = [];
  const open = w.stream;
  w.stream = undefined;
  if (open === undefined) return rewind(w);
  w.recheck = true;
  open.rs.close();
  if (!open.used || !w.exactlyOnce) return rewind(w);
  const found = await lookUpTable(w);
  if (found.status !== "ok") await untilTableUsable(w, found);
  const tableChanged = open.createdAt !== undefined && w.ctx.table.createdAt !== undefined &&
    open.createdAt !== w.ctx.table.createdAt;
  let storedRows: number;
  let byQuery = false;
  if (tableChanged) {
    // Appends on this stream sent after the table came back are in the new
    // table (the stream names the table, not its incarnation): ask which.
    storedRows = 0;
    const since = w.units.filter((unit) => unit.after?.stream === open.name && unit.row);
    const from = since[0]?.offset;
    const offsets = from === undefined ? undefined : await storedOffsetsFrom(w, from);
    if (offsets !== undefined) rememberStored(w, offsets, undefined, open.name);
    else w.stats.rewritten += since.length;
    log.warn(
      "Partition {partition}: the table was created again after write stream {stream} was opened: of the {rows} rows since the last commit, the new table holds {held}; the others are written into it",
      {
        partition: w.partition,
        stream: open.name,
        rows: since.length,
        held: offsets === undefined
          ? "an unknown number (at least once for them)"
          : since.filter((unit) => offsets.has(unit.offset)).length,
      },
    );
  } else if (options.ask === true) {
    // Finalized first, so that nothing lands behind the answer.
    const finalized = await bigquery(w, () => w.destination.finalizeStream(open.name));
    const since = w.units.filter((unit) => unit.after?.stream === open.name && unit.row);
    const from = since[0]?.offset;
    const offsets = from === undefined ? new Set<bigint>() : await storedOffsetsFrom(w, from);
    if (offsets !== undefined) {
      byQuery = true;
      storedRows = 0;
      rememberStored(w, offsets, undefined, open.name);
      log.info(
        "Partition {partition}: of the {rows} rows sent to write stream {stream} since the last commit, BigQuery holds {held}; the others are written again",
        {
          partition: w.partition,
          stream: open.name,
          rows: since.length,
          held: since.filter((unit) => offsets.has(unit.offset)).length,
        },
      );
    } else {
      storedRows = finalized.status === "finalized"
        ? finalized.rowCount
        : acknowledgedRows(w, open.name);
      log.warn(
        "Partition {partition}: BigQuery cannot be asked which rows write stream {stream} holds: trusting its row count, {rows}",
        { partition: w.partition, stream: open.name, rows: storedRows },
      );
    }
  } else {
    const finalized = await bigquery(w, () => w.destination.finalizeStream(open.name));
    if (finalized.status === "finalized") {
      storedRows = finalized.rowCount;
    } else {
      storedRows = acknowledgedRows(w, open.name);
      const unknown = w.units.filter((unit) =>
        !unit.stored && unit.row !== undefined && unit.after?.stream === open.name
      );
      const from = unknown[0]?.offset;
      const offsets = from === undefined ? undefined : await storedOffsetsFrom(w, from);
      if (offsets !== undefined) {
        rememberStored(w, offsets, undefined, open.name);
        log.warn(
          "Partition {partition}: write stream {stream} no longer exists (the local BigQuery restarted, or it expired): of {rows} rows whose append was not acknowledged, BigQuery holds {held}; the others are written again",
          {
            partition: w.partition,
            stream: open.name,
            rows: unknown.length,
            held: unknown.filter((unit) => offsets.has(unit.offset)).length,
            reason: finalized.message,
          },
        );
      } else {
        w.stats.streamsLost++;
        w.stats.rewritten += unknown.length;
        log.warn(
          "Partition {partition}: write stream {stream} no longer exists (the local BigQuery restarted, or it expired): {rows} rows whose append was not acknowledged are written again (at least once for them)",
          {
            partition: w.partition,
            stream: open.name,
            rows: unknown.length,
            reason: finalized.message,
          },
        );
      }
    }
  }
  for (const unit of w.units) {
    if (unit.after?.stream !== open.name) continue;
    if (!tableChanged && !byQuery && unit.after.row <= storedRows) {
      if (!unit.stored) markStored(w, unit);
    } else {
      unit.stored = false;
    }
  }
  rewind(w);
}

export function acknowledgedRows(w: WriterState, name: string): number {
  let rows = 0;
  for (const unit of w.units) {
    if (unit.after?.stream === name && unit.stored) rows = unit.after.row;
  }
  return rows;
}
