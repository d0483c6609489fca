/**
 * The `song_completed` event and the one boundary parser that turns untrusted
 * input (bytes or decoded JSON) into a typed {@linkcode SongCompleted}.
 *
 * Two wire formats are accepted:
 * - the livecharts format, with an `event_id` (UUID) and an ISO-8601 UTC
 *   `timestamp` such as `"2026-11-24T19:22:13.000Z"`;
 * - the tutorial format already emitted by older producers: no `event_id`, and
 *   a `timestamp` such as `"2022-11-03 07:22:13"`, read as UTC. Such events get
 *   a deterministic `event_id` derived from where they were read in Kafka
 *   (topic, partition, offset), so a re-read after a crash yields the same id.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { errorMessage } from "./errors.ts";
import { formatDuration } from "./cli/duration.ts";
import { isCanonicalTimestamp, parseEventTime } from "./event_time.ts";

/** A listener played a song to the end. */
export interface SongCompleted {
  /** Unique id of this play (UUID); the unit of deduplication. */
  event_id: string;
  /** The listener. */
  user_id: number;
  /** Artist slug, e.g. `tony-allen`. */
  artist: string;
  /** Song id, unique within the artist's catalog. */
  song_id: number;
  /** Song slug or title, e.g. `secret-agent`. */
  song_name: string;
  /** Always `song_completed`. */
  event_type: "song_completed";
  /** Event time, ISO-8601 in UTC with milliseconds (`...T07:22:13.000Z`). */
  timestamp: string;
}

/** Where a message was read from; used to derive ids for tutorial events. */
export interface EventSource {
  topic: string;
  partition: number;
  offset: string;
}

/** The event could not be parsed; `field` names the culprit when there is one. */
export class EventError extends Error {
  /** The offending field, or `undefined` when the whole message is bad. */
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(`Cannot parse event: ${message}`);
    this.name = "EventError";
    this.field = field;
  }
}

/** A slug: lowercase words of letters and digits joined by single dashes (`tony-allen`). */
export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/**
 * Parses an artist slug such as `tony-allen` (an option's value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { artistSlug } from "./event.ts";
 * assert.equal(artistSlug("tony-allen"), "tony-allen");
 * assert.throws(() => artistSlug("Tony Allen"), /must be an artist slug like tony-allen, got "Tony Allen"/);
 * ```
 */
export function artistSlug(raw: string): string {
  if (!SLUG.test(raw)) {
    throw new Error(`must be an artist slug like tony-allen, got ${JSON.stringify(raw)}`);
  }
  return raw;
}
/** Longest accepted `artist` slug. */
export const MAX_ARTIST_LENGTH = 128;
/** Longest accepted `song_name`. */
export const MAX_SONG_NAME_LENGTH = 1024;

// 2026-11-24T19:22:13Z, 2026-11-24T19:22:13.123+01:00, 2022-11-03 07:22:13
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;
// Fixed namespace for ids derived from Kafka coordinates (a random v4 UUID).
const KAFKA_NAMESPACE = "6f1c2b0e-5d0a-4a3e-9c1e-7b7d2f4a9e51";

/**
 * `text` lowered when it is a UUID in its 8-4-4-4-12 hexadecimal form
 * (either case), else `undefined`. Checked by its characters in one pass: a
 * regular expression and `toLowerCase` cost about 0.3 µs an event, 3 % of
 * the consumer's time per row.
 */
function lowerUuid(text: string): string | undefined {
  if (text.length !== 36) return undefined;
  let upper = false;
  for (let i = 0; i < 36; i++) {
    const code = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (code !== 45) return undefined;
    } else if (code >= 65 && code <= 70) {
      upper = true;
    } else if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 102))) {
      return undefined;
    }
  }
  return upper ? text.toLowerCase() : text;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 64));
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function integerField(record: Record<string, unknown>, field: string): number {
  const value = record[field];
  if (value === undefined) throw new EventError(`'${field}' is missing`, field);
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new EventError(
      `'${field}' must be an integer, got ${describe(value)}`,
      field,
    );
  }
  if (value < 0) {
    throw new EventError(`'${field}' must not be negative, got ${value}`, field);
  }
  return value;
}

function stringField(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (value === undefined) throw new EventError(`'${field}' is missing`, field);
  if (typeof value !== "string") {
    throw new EventError(
      `'${field}' must be a string, got ${describe(value)}`,
      field,
    );
  }
  if (value.length === 0) {
    throw new EventError(`'${field}' must not be empty`, field);
  }
  return value;
}

/**
 * Normalizes an event timestamp to ISO-8601 UTC with milliseconds.
 * A timestamp without a zone (the tutorial's `"2022-11-03 07:22:13"`) is UTC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeTimestamp } from "./event.ts";
 * assert.equal(normalizeTimestamp("2022-11-03 07:22:13"), "2022-11-03T07:22:13.000Z");
 * assert.equal(normalizeTimestamp("2022-11-03T08:22:13+01:00"), "2022-11-03T07:22:13.000Z");
 * assert.equal(normalizeTimestamp("2022-02-30 07:22:13"), undefined);
 * ```
 */
export function normalizeTimestamp(value: string): string | undefined {
  if (isCanonicalTimestamp(value)) return value;
  const match = TIMESTAMP.exec(value);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction = "", zone = "Z"] = match;
  const millis = (fraction + "000").slice(1, 4).padEnd(3, "0");
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${millis}${zone}`);
  if (Number.isNaN(date.getTime())) return undefined;
  // Reject dates that JavaScript silently rolls over (2022-02-30 → March 2).
  const local = new Date(`${y}-${mo}-${d}T00:00:00Z`);
  if (
    Number.isNaN(local.getTime()) ||
    local.getUTCDate() !== Number(d) ||
    Number(h) > 23 || Number(mi) > 59 || Number(s) > 59
  ) {
    return undefined;
  }
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) return undefined;
  return date.toISOString();
}

/**
 * Derives a stable UUID (version 5 layout) from Kafka coordinates, so the same
 * message always gets the same `event_id`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deriveEventId } from "./event.ts";
 * const id = deriveEventId({ topic: "plays", partition: 0, offset: "42" });
 * assert.equal(id, deriveEventId({ topic: "plays", partition: 0, offset: "42" }));
 * assert.notEqual(id, deriveEventId({ topic: "plays", partition: 0, offset: "43" }));
 * ```
 */
export function deriveEventId(source: EventSource): string {
  const hash = createHash("sha1")
    .update(KAFKA_NAMESPACE)
    .update(`${source.topic}\u0000${source.partition}\u0000${source.offset}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20, 32)
  }`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The core fields of a `song_completed` event: validated, and required (but `event_id`, see the module doc). */
export const CORE_FIELDS: readonly string[] = [
  "event_id",
  "user_id",
  "artist",
  "song_id",
  "song_name",
  "event_type",
  "timestamp",
];

const CORE = new Set(CORE_FIELDS);

/** Fields of an event beyond the core ones, as they came (JSON values). */
export type PassThrough = Record<string, unknown>;

/**
 * The fields of a decoded event object that are not core fields, in their
 * order, as they came; `undefined` when there are none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { passThroughFields } from "./event.ts";
 * assert.deepEqual(
 *   passThroughFields({ event_type: "song_completed", country: "fr", duration_ms: 215000 }),
 *   { country: "fr", duration_ms: 215000 },
 * );
 * assert.equal(passThroughFields({ event_type: "song_completed" }), undefined);
 * ```
 */
export function passThroughFields(input: unknown): PassThrough | undefined {
  if (!isRecord(input)) return undefined;
  let fields: PassThrough | undefined;
  // for...in over own keys: the order of Object.entries, without an array per field.
  for (const name in input) {
    if (!Object.hasOwn(input, name) || CORE.has(name)) continue;
    fields ??= {};
    fields[name] = input[name];
  }
  return fields;
}

/**
 * Turns an already decoded JSON value into a {@linkcode SongCompleted}, or
 * throws an {@linkcode EventError} naming the field that is wrong and why.
 * Only the core fields are read; the others are for
 * {@linkcode passThroughFields}.
 *
 * `source` is needed only for tutorial-format events without an `event_id`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEvent } from "./event.ts";
 * const event = parseEvent({
 *   user_id: 7, artist: "tony-allen", song_id: 3, song_name: "secret-agent",
 *   event_type: "song_completed", timestamp: "2022-11-03 07:22:13",
 * }, { topic: "tony-allen-plays", partition: 0, offset: "0" });
 * assert.equal(event.timestamp, "2022-11-03T07:22:13.000Z");
 * ```
 */
export function parseEvent(input: unknown, source?: EventSource): SongCompleted {
  if (!isRecord(input)) {
    throw new EventError(`expected a JSON object, got ${describe(input)}`);
  }
  const eventType = stringField(input, "event_type");
  if (eventType !== "song_completed") {
    throw new EventError(
      `'event_type' must be "song_completed", got ${describe(eventType)}`,
      "event_type",
    );
  }
  let eventId: string;
  if (input.event_id === undefined) {
    if (source === undefined) {
      throw new EventError("'event_id' is missing", "event_id");
    }
    eventId = deriveEventId(source);
  } else {
    const id = stringField(input, "event_id");
    const lowered = lowerUuid(id);
    if (lowered === undefined) {
      throw new EventError(`'event_id' must be a UUID, got ${describe(id)}`, "event_id");
    }
    eventId = lowered;
  }
  const userId = integerField(input, "user_id");
  const artist = stringField(input, "artist");
  if (artist.length > MAX_ARTIST_LENGTH || !SLUG.test(artist)) {
    throw new EventError(
      `'artist' must be a slug like "tony-allen", got ${describe(artist)}`,
      "artist",
    );
  }
  const songId = integerField(input, "song_id");
  const songName = stringField(input, "song_name");
  if (songName.length > MAX_SONG_NAME_LENGTH) {
    throw new EventError(
      `'song_name' must be at most ${MAX_SONG_NAME_LENGTH} characters, got ${songName.length}`,
      "song_name",
    );
  }
  const rawTimestamp = stringField(input, "timestamp");
  const timestamp = normalizeTimestamp(rawTimestamp);
  if (timestamp === undefined) {
    throw new EventError(
      `'timestamp' must be an ISO-8601 time like "2022-11-03T07:22:13Z", got ${
        describe(rawTimestamp)
      }`,
      "timestamp",
    );
  }
  return {
    event_id: eventId,
    user_id: userId,
    artist,
    song_id: songId,
    song_name: songName,
    event_type: "song_completed",
    timestamp,
  };
}

/** How far ahead of the reader's clock an event time may be, unless configured: 5 minutes. */
export const DEFAULT_MAX_FUTURE_MS = 300_000;

/** The clocks an event time is checked against, and how far ahead of them it may be. */
export interface EventClock {
  /** The reader's wall time, ms since the epoch. */
  now: number;
  /**
   * The Kafka record's timestamp, ms since the epoch as a number or text
   * (ignored when missing, zero or not a number).
   */
  producedAt?: number | string | undefined;
  /** Largest accepted distance of an event time ahead of the clock, in ms. */
  maxFutureMs: number;
}

/**
 * The one rule on event times shared by the consumer and the dashboard: an
 * event time more than `clock.maxFutureMs` ahead of the time its Kafka
 * record was produced, or of the reader's clock, whichever is earlier, is
 * refused with an {@linkcode EventError} on `timestamp` (one producer with a
 * wrong clock would otherwise pin its songs at the top of every window).
 * Returns the event when its time is acceptable.
 *
 * Taking the record's time when it is the earlier makes the verdict the same
 * on every read of a record produced by a correct clock: the consumer,
 * reading a message again after a crash, decides as it did the first time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkEventTime } from "./event.ts";
 * const now = Date.UTC(2026, 11, 5, 9);
 * const event = {
 *   event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a", user_id: 1,
 *   artist: "tony-allen", song_id: 1, song_name: "zombie",
 *   event_type: "song_completed" as const,
 *   timestamp: "2026-12-05T09:05:00.000Z",
 * };
 * assert.equal(checkEventTime(event, { now, maxFutureMs: 300_000 }), event);
 * assert.throws(() => checkEventTime(event, { now, maxFutureMs: 60_000 }), {
 *   message: "Cannot parse event: 'timestamp' must be at most 1m ahead of the clock " +
 *     '(2026-12-05T09:00:00.000Z), got "2026-12-05T09:05:00.000Z"',
 * });
 * // Produced an hour earlier: the record's time is the clock.
 * assert.throws(() => checkEventTime(event, { now, producedAt: now - 3_600_000, maxFutureMs: 300_000 }));
 * ```
 */
export function checkEventTime(event: SongCompleted, clock: EventClock): SongCompleted {
  const latest = latestEventTime(clock);
  if (parseEventTime(event.timestamp) > latest) {
    throw new EventError(
      `'timestamp' must be at most ${formatDuration(clock.maxFutureMs)} ahead of the clock (${
        new Date(latest - clock.maxFutureMs).toISOString()
      }), got ${JSON.stringify(event.timestamp)}`,
      "timestamp",
    );
  }
  return event;
}

/**
 * The latest event time {@linkcode checkEventTime} accepts at `clock`, in ms
 * since the epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { latestEventTime } from "./event.ts";
 * assert.equal(latestEventTime({ now: 1_000, maxFutureMs: 500 }), 1_500);
 * assert.equal(latestEventTime({ now: 1_000, producedAt: "800", maxFutureMs: 500 }), 1_300);
 * assert.equal(latestEventTime({ now: 1_000, producedAt: "0", maxFutureMs: 500 }), 1_500);
 * ```
 */
export function latestEventTime(clock: EventClock): number {
  const produced = Number(clock.producedAt);
  const at = Number.isFinite(produced) && produced > 0 ? Math.min(produced, clock.now) : clock.now;
  return at + clock.maxFutureMs;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The text of UTF-8 `bytes`, or a `TypeError` when they are not UTF-8.
 *
 * `Buffer`'s decoder costs about a fifth of `TextDecoder`'s per message (0.17
 * against 0.77 µs for a 200-byte event, measured on this machine), but it
 * replaces bytes that are not UTF-8 by U+FFFD and keeps a leading byte order
 * mark, where the strict decoder refuses the former and drops the latter. So
 * a text with either goes to the strict decoder, which decides: the answer is
 * the strict decoder's for every input.
 */
function utf8Text(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString("utf8");
  if (text.charCodeAt(0) !== 0xfeff && !text.includes("\ufffd")) return text;
  return decoder.decode(bytes);
}

/**
 * Decodes a Kafka message value (UTF-8 JSON) and parses it with
 * {@linkcode parseEvent}; with a `clock`, also checks the event time with
 * {@linkcode checkEventTime}. Every failure is an {@linkcode EventError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEvent } from "./event.ts";
 * const bytes = new TextEncoder().encode('{"event_type":"song_completed"}');
 * assert.throws(() => decodeEvent(bytes), {
 *   name: "EventError",
 *   message: "Cannot parse event: 'event_id' is missing",
 * });
 * ```
 */
export function decodeEvent(
  bytes: Uint8Array | null,
  source?: EventSource,
  clock?: EventClock,
): SongCompleted {
  return decodeEventFields(bytes, source, clock).event;
}

/** An event and the fields it carries beyond the core ones. */
export interface DecodedEvent {
  event: SongCompleted;
  /** The pass-through fields ({@linkcode passThroughFields}), if any. */
  fields: PassThrough | undefined;
}

/**
 * Like {@linkcode decodeEvent}, and also returns the event's pass-through
 * fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEventFields } from "./event.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a", user_id: 1,
 *   artist: "tony-allen", song_id: 1, song_name: "zombie",
 *   event_type: "song_completed", timestamp: "2026-11-24T19:00:00.000Z",
 *   country: "ng",
 * }));
 * const { event, fields } = decodeEventFields(bytes);
 * assert.equal(event.song_name, "zombie");
 * assert.deepEqual(fields, { country: "ng" });
 * ```
 */
export function decodeEventFields(
  bytes: Uint8Array | null,
  source?: EventSource,
  clock?: EventClock,
): DecodedEvent {
  if (bytes === null || bytes.length === 0) {
    throw new EventError("the message is empty");
  }
  let text: string;
  try {
    text = utf8Text(bytes);
  } catch {
    throw new EventError("the message is not valid UTF-8");
  }
  return decodeEventText(text, source, clock);
}

/**
 * Like {@linkcode decodeEventFields}, from a message's text (its bytes
 * already decoded as UTF-8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEventText } from "./event.ts";
 * assert.throws(() => decodeEventText("{"), {
 *   message: /^Cannot parse event: the message is not valid JSON/,
 * });
 * ```
 */
export function decodeEventText(
  text: string,
  source?: EventSource,
  clock?: EventClock,
): DecodedEvent {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EventError(`the message is not valid JSON (${errorMessage(error)})`);
  }
  const event = parseEvent(json, source);
  if (clock !== undefined) checkEventTime(event, clock);
  return { event, fields: passThroughFields(json) };
}

/**
 * Serializes an event for Kafka (UTF-8 JSON, fields in declaration order).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEvent, encodeEvent } from "./event.ts";
 * const event = {
 *   event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a", user_id: 1,
 *   artist: "tony-allen", song_id: 1, song_name: "zombie",
 *   event_type: "song_completed" as const,
 *   timestamp: "2026-11-24T19:00:00.000Z",
 * };
 * assert.deepEqual(decodeEvent(encodeEvent(event)), event);
 * ```
 */
export function encodeEvent(event: SongCompleted): Uint8Array {
  // A Buffer is a Uint8Array carved from a shared pool: one small allocation
  // per event instead of an ArrayBuffer each (the produce benchmark,
  // bench/README.md, measures the producer's throughput).
  return Buffer.from(JSON.stringify(event));
}
