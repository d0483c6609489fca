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
import { formatDuration } from "../cli/duration.ts";
import { decodeEventFields, DEFAULT_MAX_FUTURE_MS, EventError } from "../event.ts";
import { parseEventTime } from "../event_time.ts";
import { type PlayRow, type SchemaEvolution, shapeFields, toRow } from "../schema.ts";

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
  /** Appends sent again, unchanged, on the same stream after no answer or a busy BigQuery. */
  resent: number;
  /** Write stream creations asked for (COMMITTED streams and PENDING probes). */
  streamsCreated: number;
  /**
   * Batches dropped as stale: fetched before a rebalance from a position
   * past the committed offset (the partition is fetched again from there).
   */
  staleBatches: number;
  /** Writers kept across a rebalance that left their partition here. */
  writersKept: number;
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
    deadLettered: {
      "invalid-json": 0,
      "invalid-event": 0,
      "rejected-by-bigquery": 0,
      "schema-conflict": 0,
    },
    retries: 0,
    batches: 0,
    lastBatchRows: 0,
    lastInsertMs: 0,
    skipped: 0,
    rewritten: 0,
    streamsLost: 0,
    resent: 0,
    streamsCreated: 0,
    staleBatches: 0,
    writersKept: 0,
  };
}

/**
 * The version of {@linkcode decodeMessage}: which messages become rows, and
 * which rows. Written into every commit marker; raise it with any change to
 * parsing or validation, so that a restart after a deploy asks BigQuery what
 * it holds instead of counting rows the old decoder made.
 */
export const DECODER_VERSION = "3"; // 2: event times ahead of the clock are refused; 3: pass-through fields

/** Classifies a decoding error. */
export function failureOf(error: EventError): Failure {
  return {
    kind: error.field === undefined ? "invalid-json" : "invalid-event",
    reason: error.message,
    field: error.field,
  };
}

/** A message as a row (with the names of the fields it drops), or as a dead letter with its kind. */
export type Decoded =
  | { row: PlayRow; letter?: undefined; dropped?: string[] }
  | { row?: undefined; letter: OutgoingMessage; kind: DeadLetterKind };

/** Options of {@linkcode decodeMessage}. */
export interface DecodeOptions {
  /** How far ahead of the clock an event time may be (default `DEFAULT_MAX_FUTURE_MS`, 5 minutes). */
  maxFutureMs?: number;
  /** What becomes of pass-through fields (default `add-columns`): see `SchemaEvolution`. */
  schemaEvolution?: SchemaEvolution;
}

// The reading time of the latest message decoded, and its milliseconds.
let lastIngestedAt = "";
let lastNow = Number.NaN;

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
    // One reading time for a whole fetch: read once.
    if (ingestedAt !== lastIngestedAt) {
      lastNow = parseEventTime(ingestedAt);
      lastIngestedAt = ingestedAt;
    }
    const now = lastNow;
    const clock = Number.isFinite(now)
      ? {
        now,
        producedAt: message.timestamp,
        maxFutureMs: options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS,
      }
      : undefined;
    const decoded = decodeEventFields(message.value, source, clock);
    if (decoded.fields === undefined) {
      // No pass-through fields (most events): nothing to shape or drop.
      return { row: toRow(decoded.event, partition, source.offset, ingestedAt) };
    }
    const { fields, dropped } = shapeFields(
      decoded.fields,
      options.schemaEvolution ?? "add-columns",
    );
    const row = toRow(decoded.event, partition, source.offset, ingestedAt, fields);
    return dropped.length === 0 ? { row } : { row, dropped };
  } catch (error) {
    if (!(error instanceof EventError)) throw error;
    const failure = failureOf(error);
    return { letter: deadLetter(message, topic, partition, failure), kind: failure.kind };
  }
}

/** A versioned way from messages to rows: which messages become rows, and which rows. */
export interface Decoder {
  /** Changes whenever `decode` may give another row or letter for the same message. */
  version: string;
  decode: typeof decodeMessage;
}

/**
 * The consumer's decoder: {@linkcode decodeMessage} at {@linkcode DECODER_VERSION}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DECODER_VERSION, PLAY_DECODER } from "./sink.ts";
 * assert.equal(PLAY_DECODER.version, DECODER_VERSION);
 * ```
 */
export const PLAY_DECODER: Decoder = playDecoder();

/**
 * The consumer's decoder with event times allowed up to `maxFutureMs` ahead
 * of the clock (`--max-future-skew`) and pass-through fields shaped by
 * `schemaEvolution` (`--schema-evolution`). Another skew decides differently
 * which messages become rows, another policy gives other rows, so each is
 * another version: a restart with a changed skew or policy asks BigQuery
 * what it holds rather than counting rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DECODER_VERSION, playDecoder } from "./sink.ts";
 * assert.equal(playDecoder().version, DECODER_VERSION);
 * assert.equal(playDecoder(60_000).version, `${DECODER_VERSION}+skew=1m`);
 * assert.equal(playDecoder(undefined, "off").version, `${DECODER_VERSION}+schema=off`);
 * const timestamp = new Date(Date.now() + 120_000).toISOString();
 * const value = new TextEncoder().encode(JSON.stringify({
 *   user_id: 1, artist: "tony-allen", song_id: 1, song_name: "zombie",
 *   event_type: "song_completed", timestamp,
 * }));
 * const message = { key: null, value, offset: "5", timestamp: "0" };
 * const at = new Date().toISOString();
 * assert.equal(playDecoder(60_000).decode("plays", 0, message, at).letter?.headers["error.kind"], "invalid-event");
 * assert.ok(playDecoder().decode("plays", 0, message, at).row);
 * ```
 */
export function playDecoder(
  maxFutureMs: number = DEFAULT_MAX_FUTURE_MS,
  schemaEvolution: SchemaEvolution = "add-columns",
): Decoder {
  if (!Number.isSafeInteger(maxFutureMs) || maxFutureMs < 0) {
    throw new RangeError(
      `Cannot build the decoder: expected a skew of 0 ms or more, got ${maxFutureMs}`,
    );
  }
  const skew = maxFutureMs === DEFAULT_MAX_FUTURE_MS ? "" : `+skew=${formatDuration(maxFutureMs)}`;
  const schema = schemaEvolution === "add-columns" ? "" : `+schema=${schemaEvolution}`;
  return {
    version: `${DECODER_VERSION}${skew}${schema}`,
    decode: (topic, partition, message, ingestedAt, options) =>
      decodeMessage(topic, partition, message, ingestedAt, {
        maxFutureMs,
        schemaEvolution,
        ...options,
      }),
  };
}

/** A pass-through field whose value does not fit the type of its column. */
export interface SchemaConflict {
  field: string;
  columnType: string;
  valueType: string;
}

/** The dead letter of a message whose pass-through field conflicts with its column. */
export function conflictLetter(
  topic: string,
  partition: number,
  message: SourceMessage,
  conflict: SchemaConflict,
): OutgoingMessage {
  return deadLetter(message, topic, partition, {
    kind: "schema-conflict",
    reason:
      `Cannot store event: '${conflict.field}' is ${conflict.valueType} but its column is ${conflict.columnType}`,
    field: conflict.field,
    types: { column: conflict.columnType, value: conflict.valueType },
  });
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
