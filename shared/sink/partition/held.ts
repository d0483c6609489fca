/**
 * The messages a writer holds, in offset order: decoded once, cut into
 * appends at the flush limits, marked stored, and rewound to the first
 * unstored one when what is stored must be settled.
 *
 * @module
 */

import { batchLength, flushReason } from "../batcher.ts";
import { logger } from "../../ops/mod.ts";
import { refusedLetter } from "../sink.ts";
import { type Unit, type WriterState } from "./state.ts";

const log = logger("consumer");

/** The last time written by {@linkcode isoTime}: many units are decoded within one millisecond. */
const lastIso = { ms: Number.NaN, text: "" };

/** `date.toISOString()`, written once per millisecond. */
function isoTime(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastIso.ms) {
    lastIso.ms = ms;
    lastIso.text = date.toISOString();
  }
  return lastIso.text;
}

/**
 * Decodes `unit` once (its row or its letter). The row's pass-through
 * fields are not yet checked against the table: that is `fitNext`
 * (schema_fit.ts), which every unit passes before it is appended or counted.
 */
export function decode(w: WriterState, unit: Unit): void {
  if (unit.decoded) return;
  unit.decoded = true;
  const decoded = w.decoder.decode(w.ctx.topic, w.partition, unit.message, isoTime(w.now()));
  if (decoded.row !== undefined) {
    unit.row = decoded.row;
    if (decoded.dropped !== undefined && w.columns.warnDropped(decoded.dropped)) {
      log.warn(
        "Events carry fields the table does not keep: {fields} (dropped; see --schema-evolution)",
        { fields: decoded.dropped.join(", "), decoder: w.version },
      );
    }
  } else {
    unit.letter = decoded.letter;
    unit.kind = decoded.kind;
  }
}

export function flushDue(w: WriterState): boolean {
  if (w.sent >= w.units.length) return false;
  if (w.draining > 0 || w.stopping) return true;
  const reason = flushReason({
    rows: w.units.length - w.sent,
    bytes: w.unsentBytes,
    ageMs: Date.now() - w.units[w.sent]!.at,
  }, w.limits);
  return reason !== undefined;
}

/**
 * How many units the next chunk from `sent` holds: up to the limits, ending
 * at a barrier, and (unless `unfitted`) before the first unit not fitted to
 * the table's columns.
 */
export function nextChunkLength(w: WriterState, unfitted = false): number {
  return batchLength(unsentSizes(w, unfitted), w.limits);
}

/** Takes the next chunk from `sent`: up to the limits, ending at a barrier. */
export function takeChunk(w: WriterState): Unit[] {
  const count = nextChunkLength(w);
  const chunk = w.units.slice(w.sent, w.sent + count);
  for (const unit of chunk) w.unsentBytes -= unit.bytes;
  w.sent += count;
  return chunk;
}

/** Sizes of the units not sent, up to and including the next barrier. */
function* unsentSizes(w: WriterState, unfitted: boolean): Generator<number> {
  for (let i = w.sent; i < w.units.length; i++) {
    const unit = w.units[i]!;
    if (!unfitted && !unit.fitted) return;
    yield unit.bytes;
    if (unit.barrier) return;
  }
}

/** Points `sent` at the first unit not stored; everything from there is sent again. */
export function rewind(w: WriterState): void {
  let first = w.units.findIndex((unit) => !unit.stored);
  if (first === -1) first = w.units.length;
  // Appends are stored in order: nothing after the first unstored unit is.
  for (let i = first; i < w.units.length; i++) {
    if (i < w.sent) w.unsentBytes += w.units[i]!.bytes;
    w.units[i]!.stored = false;
    w.units[i]!.after = undefined;
  }
  w.sent = first;
}

export function markStored(w: WriterState, unit: Unit): void {
  unit.stored = true;
  if (!unit.counted && unit.row !== undefined) {
    unit.counted = true;
    w.stats.inserted++;
  }
}

export function refuse(w: WriterState, unit: Unit, reason: string): void {
  unit.row = undefined;
  unit.letter = refusedLetter(w.ctx.topic, w.partition, unit.message, reason);
  unit.kind = "rejected-by-bigquery";
}
