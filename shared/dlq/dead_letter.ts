/**
 * Dead-letter messages: the original bytes, unchanged, plus headers saying
 * why the message could not be stored and where it came from.
 *
 * @module
 */

/**
 * Settings of a dead-letter topic: a letter carries a whole source message
 * plus headers, so more than 1 MB is allowed.
 */
export const DEAD_LETTER_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  "max.message.bytes": String(4 * 1024 * 1024),
};

/** Why a message went to the dead-letter topic (also a metrics label). */
export type DeadLetterKind =
  | "invalid-json"
  | "invalid-event"
  | "rejected-by-bigquery"
  /** A pass-through field's value does not fit the type of its column. */
  | "schema-conflict";

/** Header names written on every dead-letter message. */
export const DEAD_LETTER_HEADERS = {
  error: "error",
  kind: "error.kind",
  field: "error.field",
  /** With `schema-conflict`: the column's type in the table. */
  columnType: "error.column_type",
  /** With `schema-conflict`: the type the event's value calls for. */
  valueType: "error.value_type",
  topic: "source.topic",
  partition: "source.partition",
  offset: "source.offset",
  timestamp: "source.timestamp",
} as const;

/** A message as read from the source topic. */
export interface SourceMessage {
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** The value's length in bytes (0 for none), when known without reading `value`. */
  readonly valueLength?: number;
  offset: string;
  timestamp: string;
  headers?: Record<string, unknown> | undefined;
}

/** A message to publish, in the shape the Kafka producer takes. */
export interface OutgoingMessage {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, string | Uint8Array>;
  timestamp?: string;
}

/** What went wrong with one message. */
export interface Failure {
  kind: DeadLetterKind;
  reason: string;
  field?: string | undefined;
  /** With `schema-conflict`: the column's type and the value's. */
  types?: { column: string; value: string } | undefined;
}

function copyHeaders(
  headers: Record<string, unknown> | undefined,
): Record<string, string | Uint8Array> {
  const copy: Record<string, string | Uint8Array> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === "string" || value instanceof Uint8Array) copy[name] = value;
  }
  return copy;
}

/**
 * Builds the dead-letter copy of `message` read from `topic`/`partition`.
 * The key, value and original headers are kept as they were.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deadLetter } from "./dead_letter.ts";
 * const dlq = deadLetter(
 *   { key: null, value: new TextEncoder().encode("{oops"), offset: "7", timestamp: "0" },
 *   "plays", 2,
 *   { kind: "invalid-json", reason: "Cannot parse event: the message is not valid JSON" },
 * );
 * assert.equal(dlq.headers["source.offset"], "7");
 * assert.equal(dlq.headers["error.kind"], "invalid-json");
 * ```
 */
export function deadLetter(
  message: SourceMessage,
  topic: string,
  partition: number,
  failure: Failure,
): OutgoingMessage {
  const headers = copyHeaders(message.headers);
  headers[DEAD_LETTER_HEADERS.error] = failure.reason;
  headers[DEAD_LETTER_HEADERS.kind] = failure.kind;
  // A replayed dead letter may carry the field of its earlier failure.
  if (failure.field === undefined) delete headers[DEAD_LETTER_HEADERS.field];
  else headers[DEAD_LETTER_HEADERS.field] = failure.field;
  delete headers[DEAD_LETTER_HEADERS.columnType];
  delete headers[DEAD_LETTER_HEADERS.valueType];
  if (failure.types !== undefined) {
    headers[DEAD_LETTER_HEADERS.columnType] = failure.types.column;
    headers[DEAD_LETTER_HEADERS.valueType] = failure.types.value;
  }
  headers[DEAD_LETTER_HEADERS.topic] = topic;
  headers[DEAD_LETTER_HEADERS.partition] = String(partition);
  headers[DEAD_LETTER_HEADERS.offset] = message.offset;
  headers[DEAD_LETTER_HEADERS.timestamp] = message.timestamp;
  return { key: message.key, value: message.value, headers };
}
