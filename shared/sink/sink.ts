/**
 * What the consumer does to each message: decode it into a row of the plays
 * table, or, when it cannot be stored, build its dead letter; plus the
 * counters the sink keeps.
 *
 * Decoding is deterministic: the same message read again yields the same row
 * (tutorial events get an id derived from their Kafka coordinates) or the
 * same dead letter, which is what lets a re-read after a crash line up with
 * the rows already stored. Only `ingested_at` differs.
 *
 * @module
 */

import {
  deadLetter,
  type DeadLetterKind,
  type Failure,
  type OutgoingMessage,
  type SourceMessage,
} from "../dlq/mod.ts";
import { decodeEvent, DEFAULT_MAX_FUTURE_MS, EventError } from "../event.ts";
import { type PlayRow, toRow } from "../schema.ts";

/** Counters kept by the sink (all monotonic). */
export interface SinkStats {
  /** Messages read from the source topic. */
  consumed: number;
  /** Rows BigQuery acknowledged (each message's row counted once). */
  inserted: number;
  /** Dead letters Kafka acknowledged, by kind. */
  deadLettered: Record<DeadLetterKind, number>;
  /** Retries of failed writes, dead letters and commits. */
  retries: number;
  /** Appends acknowledged. */
  batches: number;
  /** Rows of the latest acknowledged append. */
  lastBatchRows: number;
  /** Duration of the latest acknowledged append, in milliseconds. */
  lastInsertMs: number;
}

/** The sink's counters plus what exactly-once delivery did. */
export interface WriterStats extends SinkStats {
  /** Rows re-read after a restart that BigQuery already held (not written again). */
  skipped: number;
  /** Rows written again without knowing whether they were stored (a lost write stream). */
  rewritten: number;
  /** Write streams that could not be found when their row count was needed. */
  streamsLost: number;
}

/**
 * Fresh counters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSinkStats } from "./sink.ts";
 * assert.equal(createSinkStats().deadLettered["invalid-json"], 0);
 * ```
 */
export function createSinkStats(): WriterStats {
  return {
    consumed: 0,
    inserted: 0,
    deadLettered: { "invalid-json": 0, "invalid-event": 0, "rejected-by-bigquery": 0 },
    retries: 0,
    batches: 0,
    lastBatchRows: 0,
    lastInsertMs: 0,
    skipped: 0,
    rewritten: 0,
    streamsLost: 0,
  };
}

/** Classifies a decoding error. */
export function failureOf(error: EventError): Failure {
  return {
    kind: error.field === undefined ? "invalid-json" : "invalid-event",
    reason: error.message,
    field: error.field,
  };
}

/** A message as a row, or as a dead letter with its kind. */
export type Decoded =
  | { row: PlayRow; letter?: undefined }
  | { row?: undefined; letter: OutgoingMessage; kind: DeadLetterKind };

let processMaxFutureMs = DEFAULT_MAX_FUTURE_MS;

/**
 * Sets how far ahead of the clock an event time may be for every later
 * {@linkcode decodeMessage} of this process that is not given its own
 * (default `DEFAULT_MAX_FUTURE_MS`, 5 minutes). The consumer's entry script
 * calls it once with `--max-future-skew`, before it reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, setMaxFutureSkew } from "./sink.ts";
 * const timestamp = new Date(Date.now() + 120_000).toISOString();
 * const value = new TextEncoder().encode(JSON.stringify({
 *   user_id: 1, artist: "tony-allen", song_id: 1, song_name: "zombie",
 *   event_type: "song_completed", timestamp,
 * }));
 * const message = { key: null, value, offset: "5", timestamp: "0" };
 * setMaxFutureSkew(60_000);
 * assert.equal(decodeMessage("plays", 0, message, new Date().toISOString()).letter?.headers["error.kind"], "invalid-event");
 * setMaxFutureSkew(300_000);
 * assert.ok(decodeMessage("plays", 0, message, new Date().toISOString()).row);
 * ```
 */
export function setMaxFutureSkew(ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`Cannot set the future skew: expected 0 ms or more, got ${ms}`);
  }
  processMaxFutureMs = ms;
}

/** Options of {@linkcode decodeMessage}. */
export interface DecodeOptions {
  /** How far ahead of the clock an event time may be (default: the process's, see {@linkcode setMaxFutureSkew}). */
  maxFutureMs?: number;
}

/**
 * Decodes `message` read from `topic`/`partition` into its row, or its dead
 * letter when it is not a valid event. `ingestedAt` is the reader's clock:
 * an event time further ahead of it, or of the record's Kafka timestamp,
 * than the allowed skew is an invalid event (`checkEventTime`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage } from "./sink.ts";
 * const value = new TextEncoder().encode(JSON.stringify({
 *   user_id: 1, artist: "tony-allen", song_id: 1, song_name: "zombie",
 *   event_type: "song_completed", timestamp: "2022-11-03 07:22:13",
 * }));
 * const message = { key: null, value, offset: "5", timestamp: "0" };
 * const first = decodeMessage("plays", 0, message, "2026-11-24T19:00:00.000Z");
 * const again = decodeMessage("plays", 0, message, "2026-11-24T19:05:00.000Z");
 * assert.equal(first.row?.event_id, again.row?.event_id);
 * assert.equal(decodeMessage("plays", 0, { ...message, value: null }, "").letter?.headers["error.kind"], "invalid-json");
 * // Read in 2020, the event of 2022 lies in the future.
 * const early = decodeMessage("plays", 0, message, "2020-01-01T00:00:00.000Z");
 * assert.equal(early.letter?.headers["error.field"], "timestamp");
 * ```
 */
export function decodeMessage(
  topic: string,
  partition: number,
  message: SourceMessage,
  ingestedAt: string,
  options: DecodeOptions = {},
): Decoded {
  try {
    const source = { topic, partition, offset: message.offset };
    const now = Date.parse(ingestedAt);
    const clock = Number.isFinite(now)
      ? {
        now,
        producedAt: message.timestamp,
        maxFutureMs: options.maxFutureMs ?? processMaxFutureMs,
      }
      : undefined;
    const event = decodeEvent(message.value, source, clock);
    return { row: toRow(event, partition, message.offset, ingestedAt) };
  } catch (error) {
    if (!(error instanceof EventError)) throw error;
    const failure = failureOf(error);
    return { letter: deadLetter(message, topic, partition, failure), kind: failure.kind };
  }
}

/** The dead letter of a message whose row BigQuery refused as a row. */
export function refusedLetter(
  topic: string,
  partition: number,
  message: SourceMessage,
  reason: string,
): OutgoingMessage {
  return deadLetter(message, topic, partition, {
    kind: "rejected-by-bigquery",
    reason: `Cannot store event: ${reason}`,
  });
}
