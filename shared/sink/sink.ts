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
import { decodeEvent, EventError } from "../event.ts";
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
  /**
   * Batches dropped as stale: fetched before a rebalance from a position
   * past the committed offset (the partition is fetched again from there).
   */
  staleBatches: number;
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
    staleBatches: 0,
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

/**
 * Decodes `message` read from `topic`/`partition` into its row, or its dead
 * letter when it is not a valid event.
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
 * ```
 */
export function decodeMessage(
  topic: string,
  partition: number,
  message: SourceMessage,
  ingestedAt: string,
): Decoded {
  try {
    const source = { topic, partition, offset: message.offset };
    const event = decodeEvent(message.value, source);
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
