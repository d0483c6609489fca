/**
 * Resuming a partition: what the committed marker says is stored after the
 * committed offset. By count (the stream's row count minus the marker's row)
 * when the same decoder made the rows; otherwise by asking BigQuery which
 * offsets it holds (a decoder change, a lost stream, or a marker that says
 * rows may be elsewhere).
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import { logger } from "../../ops/mod.ts";
import { type CommitMarker, parseMarker } from "../commit_marker.ts";
import type { WriterState } from "./state.ts";
import { decode } from "./held.ts";
import { bigquery, kafka, pause } from "./retries.ts";
import { check } from "./state.ts";

const log = logger("consumer");

export async function recover(w: WriterState): Promise<void> {
  const position = await kafka(w, "commit", () => w.io.committed());
  check(w);
  log.debug("Partition {partition}: committed at {offset} ({metadata})", {
    partition: w.partition,
    offset: String(position?.offset ?? "none"),
    metadata: position?.metadata ?? "",
  });
  if (position === undefined) return;
  w.startAt = position.offset;
  w.committedAt = position.offset;
  w.committedMetadata = position.metadata ?? undefined;
  if (!w.exactlyOnce) return;
  const marker = parseMarker(position.metadata);
  if (marker === undefined) {
    log.info(
      "Partition {partition}: the last commit (offset {offset}) names no write stream; exactly-once starts there",
      { partition: w.partition, offset: String(position.offset) },
    );
    return;
  }
  const ask = marker.askUntil !== undefined && marker.askUntil >= position.offset;
  if (marker.finalized === true && !ask) {
    log.debug(
      "Partition {partition}: write stream {stream} was finalized by a clean shutdown with every row committed",
      { partition: w.partition, stream: marker.stream },
    );
    return;
  }
  const finalized = marker.finalized === true
    ? { status: "finalized" as const, rowCount: marker.row }
    : await bigquery(w, () => w.destination.finalizeStream(marker.stream));
  const reason = finalized.status === "not-found"
    ? `write stream ${marker.stream} named by the last commit no longer exists`
    : marker.version !== w.version
    ? `the last commit was written by decoder version ${marker.version}, this is ${w.version}`
    : ask
    ? "the last commit says rows may be stored outside its stream"
    : undefined;
  if (reason === undefined && finalized.status === "finalized") {
    skipByCount(w, marker, finalized.rowCount, position.offset);
    return;
  }
  // Counting cannot tell: ask BigQuery which offsets it holds. The stream
  // is finalized (or gone), so nothing is appended behind the answer.
  const offsets = await storedOffsetsFrom(w, position.offset);
  if (offsets !== undefined) {
    rememberStored(w, offsets, marker.askUntil, marker.stream);
    log.info(
      "Partition {partition}: {reason}: BigQuery holds rows of {count} messages from offset {offset} on; those are not written again",
      { partition: w.partition, reason, count: offsets.size, offset: String(position.offset) },
    );
    return;
  }
  if (finalized.status === "finalized") {
    log.warn(
      "Partition {partition}: {reason}, and BigQuery cannot be asked which offsets it holds: skipping by count",
      { partition: w.partition, reason },
    );
    skipByCount(w, marker, finalized.rowCount, position.offset);
    return;
  }
  w.stats.streamsLost++;
  log.warn(
    "Partition {partition}: write stream {stream} named by the last commit (offset {offset}) no longer exists, and BigQuery cannot be asked which offsets it holds: rows of messages from offset {offset} on that were stored before are stored again (at least once for this gap)",
    {
      partition: w.partition,
      stream: marker.stream,
      offset: String(position.offset),
      reason: finalized.message,
    },
  );
}

/** The first `rowCount - marker.row` rows rebuilt from the re-read are stored: skip them. */
export function skipByCount(
  w: WriterState,
  marker: CommitMarker,
  rowCount: number,
  offset: bigint,
): void {
  const left = rowCount - marker.row;
  if (left < 0) {
    log.warn(
      "Partition {partition}: write stream {stream} holds {rows} rows, fewer than the {row} the last commit says: skipping none",
      { partition: w.partition, stream: marker.stream, rows: rowCount, row: marker.row },
    );
    return;
  }
  if (left > 0) {
    w.skip = { stream: marker.stream, row: marker.row, left };
    log.info(
      "Partition {partition}: {left} rows after offset {offset} are already stored (write stream {stream}): skipping them on the re-read",
      { partition: w.partition, left, offset: String(offset), stream: marker.stream },
    );
  }
}

/**
 * The offsets from `from` on whose rows the table holds, or undefined when
 * BigQuery cannot be asked (no permission to run queries, say).
 */
export async function storedOffsetsFrom(
  w: WriterState,
  from: bigint,
): Promise<Set<bigint> | undefined> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    check(w);
    try {
      return await w.destination.storedOffsets(w.partition, from);
    } catch (error) {
      check(w);
      if (!w.destination.isTransient(error)) {
        log.warn("Partition {partition}: cannot ask BigQuery which offsets it holds: {error}", {
          partition: w.partition,
          error: errorMessage(error),
        });
        return undefined;
      }
      await pause(w, "insert", error, attempt);
    }
  }
  return undefined;
}

/** Rows of `offsets` are stored: never write them again; markers say so up to their end. */
export function rememberStored(
  w: WriterState,
  offsets: Set<bigint>,
  until: bigint | undefined,
  name: string,
): void {
  let end = until ?? -1n;
  for (const offset of offsets) if (offset > end) end = offset;
  if (w.known !== undefined) {
    for (const offset of w.known.offsets) offsets.add(offset);
    if (w.known.until > end) end = w.known.until;
  }
  w.known = end < 0n ? undefined : { offsets, until: end, stream: name };
}

export function consumeSkip(w: WriterState): void {
  while (w.skip !== undefined && w.sent < w.units.length) {
    const unit = w.units[w.sent]!;
    if (!unit.fitted) return; // schema_fit.ts gives its verdict first
    decode(w, unit);
    if (unit.row !== undefined) {
      w.skip.left--;
      w.skip.row++;
      w.stats.skipped++;
      unit.row = undefined;
      unit.counted = true;
    }
    unit.stored = true;
    unit.after = { stream: w.skip.stream, row: w.skip.row };
    w.unsentBytes -= unit.bytes;
    w.sent++;
    if (w.skip.left === 0) {
      log.info("Partition {partition}: skipped every row already stored; writing on", {
        partition: w.partition,
      });
      w.skip = undefined;
    }
  }
}
