/**
 * Rows BigQuery refuses as rows: found in a PENDING probe stream (nothing
 * stored), turned into dead letters with a commit past each run of them; or,
 * when every row is refused by a table that does not fit, a blocked
 * destination.
 *
 * @module
 */

import type { AppendResult } from "../../bigquery/mod.ts";
import { GrpcStatus } from "../../bigquery/mod.ts";
import { logger } from "../../ops/mod.ts";
import type { PlayRow } from "../../schema.ts";
import { type Inflight, problemOf, type Unit, type WriterState } from "./state.ts";
import { refuse } from "./held.ts";
import { block, lookUpTable, recoverFrom, untilTableUsable } from "./retries.ts";
import { check } from "./state.ts";
import { createStream, resync } from "./streams.ts";

const log = logger("consumer");

/**
 * Finds the rows of a refused append that BigQuery refuses, without
 * storing anything (a PENDING probe stream), and turns them into dead
 * letters — unless every row is refused and the table's schema does not
 * fit the rows: then the destination is unusable, and the writer blocks.
 */
export async function isolate(w: WriterState, head: Inflight, result: AppendResult): Promise<void> {
  let refused: { index: number; reason: string }[];
  let complete = true;
  let accepted = 0;
  const fallback = result.status === "failed" || result.status === "rows-refused"
    ? result.message
    : "refused by BigQuery";
  if (result.status === "rows-refused") {
    refused = result.rows;
    accepted = head.rows.length - refused.length;
  } else if (result.status === "ok" && result.refused !== undefined) {
    refused = result.refused;
  } else {
    const found = await probe(w, head.rows, fallback, w.ctx.probeCap ?? 64);
    ({ refused, complete, accepted } = found);
  }
  const everyRow = accepted === 0 && (!complete || refused.length >= head.rows.length);
  if (everyRow) {
    w.failures++;
    const table = await lookUpTable(w);
    if (table.status !== "ok") {
      await untilTableUsable(w, table);
      return;
    }
    if (table.schemaProblem !== undefined) {
      await block(w, {
        reason: "schema-mismatch",
        detail:
          `BigQuery refuses every row (${fallback}); the table's schema does not fit the rows: ${table.schemaProblem}`,
      }, w.failures);
      // A stream keeps the schema it was opened with: try again in a new one.
      await resync(w);
      return;
    }
    if (!complete) ({ refused } = await probe(w, head.rows, fallback, undefined));
  }
  if (refused.length === 0) {
    // Refused whole, yet no row is on its own (the table changed since the
    // stream was opened?): try again later, in a new stream.
    await recoverFrom(w, { code: undefined, message: fallback, retryable: true });
    await resync(w);
    return;
  }
  const bad = new Set<Unit>();
  for (const { index, reason } of refused) {
    const unit = head.owners[index];
    if (unit === undefined) continue;
    refuse(w, unit, reason);
    bad.add(unit);
  }
  // A commit past each run of refused rows before later rows are appended.
  if (w.exactlyOnce) {
    head.units.forEach((unit, i) => {
      const next = head.units[i + 1];
      if (bad.has(unit) && (next === undefined || !bad.has(next))) unit.barrier = true;
    });
  }
  log.warn(
    "Partition {partition}: BigQuery refused {count} rows as rows ({reason}); they go to the dead-letter topic",
    { partition: w.partition, count: bad.size, reason: refused[0]?.reason ?? fallback },
  );
}

/** Bisects `rows` in a PENDING stream to find the refused ones (at most `cap` appends while none is accepted). */
export async function probe(
  w: WriterState,
  rows: readonly PlayRow[],
  fallback: string,
  cap: number | undefined,
): Promise<
  { refused: { index: number; reason: string }[]; complete: boolean; accepted: number }
> {
  const probeStream = await createStream(w, "probe", () => w.destination.openProbe());
  if (probeStream === undefined) {
    return {
      refused: rows.map((_, index) => ({ index, reason: fallback })),
      complete: true,
      accepted: 0,
    };
  }
  try {
    const refused: { index: number; reason: string }[] = [];
    const queue: Array<[number, number]> = [[0, rows.length]];
    let offset = 0;
    let calls = 0;
    let accepted = 0;
    while (queue.length > 0) {
      check(w);
      if (cap !== undefined && calls >= cap && accepted === 0) {
        return { refused, complete: false, accepted };
      }
      const [from, to] = queue.shift()!;
      const answer = await probeStream.append(rows.slice(from, to), offset);
      calls++;
      if (answer.status === "ok") {
        offset += to - from;
        accepted += to - from;
      } else if (answer.status === "rows-refused") {
        for (const row of answer.rows) {
          refused.push({ index: from + row.index, reason: row.reason });
        }
        accepted += to - from - answer.rows.length;
      } else if (answer.status === "failed" && answer.code === GrpcStatus.INVALID_ARGUMENT) {
        if (to - from === 1) refused.push({ index: from, reason: answer.message || fallback });
        else {
          const middle = from + Math.ceil((to - from) / 2);
          queue.unshift([from, middle], [middle, to]);
        }
      } else {
        // The probe itself failed: try the whole thing again later.
        await recoverFrom(w, problemOf(answer));
        return await probe(w, rows, fallback, cap);
      }
    }
    refused.sort((a, b) => a.index - b.index);
    return { refused, complete: true, accepted };
  } finally {
    probeStream.close();
  }
}
