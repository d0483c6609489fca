/**
 * Rows of the plays table straight to the protobuf bytes the Storage Write
 * API takes, for the message the write stream's connection describes
 * (`adapt.convertStorageSchemaToProto2Descriptor` of the same columns: field
 * `i + 1` is column `i`; STRING and JSON are `string`, INT64 and TIMESTAMP
 * `int64` (microseconds since the epoch), FLOAT64 `double`, BOOL `bool`).
 *
 * The encoder is compiled once per column list: one small writer per
 * column, no intermediate objects per row (no `Date`, no copy of the row,
 * no protobuf message object), and all rows of an append share one buffer.
 * A row's value goes to its column exactly as Google's JSON writer would put
 * it there: a null or missing value is left out, a pass-through value takes
 * its column's shape first (`columnValue`: JSON as its text, TIMESTAMP text
 * as a time).
 *
 * @module
 */

import { parseEventTime } from "../event_time.ts";
import { type Column, type PlayRow, PLAYS_COLUMNS } from "../schema.ts";
import { columnValue, type StorageRow, type StorageValue } from "./storage_write.ts";

/** Encodes rows for one column list. */
export interface RowEncoder {
  /** The rows of the plays table (pass-through values from `row.fields`), one message each. */
  plays(rows: readonly PlayRow[]): Uint8Array[];
  /** Rows already shaped for the Storage Write API (`storageRow`), one message each. */
  storage(rows: readonly StorageRow[]): Uint8Array[];
}

/** How a column's values are written. */
type Kind = "string" | "int64" | "double" | "bool";

const KIND: Record<Column["type"], Kind> = {
  STRING: "string",
  JSON: "string",
  INT64: "int64",
  TIMESTAMP: "int64",
  FLOAT64: "double",
  BOOL: "bool",
};

/** One column as the encoder writes it. */
interface Field {
  name: string;
  type: Column["type"];
  kind: Kind;
  /** The field's key (number and wire type), as its varint bytes. */
  key: number[];
  /** How a play row holds it: a plays column is a property, any other is in `fields`. */
  read: (row: PlayRow) => StorageValue;
  /**
   * The column's latest time text and its microseconds: every row of an
   * append shares one `ingested_at`, read once instead of once a row.
   */
  lastTime: string;
  lastMicros: number;
}

/** How a play row holds each plays column. */
const CORE: Record<string, (row: PlayRow) => StorageValue> = {
  event_id: (row) => row.event_id,
  user_id: (row) => row.user_id,
  artist: (row) => row.artist,
  song_id: (row) => row.song_id,
  song_name: (row) => row.song_name,
  event_type: (row) => row.event_type,
  timestamp: (row) => row.timestamp,
  ingested_at: (row) => row.ingested_at,
  kafka_partition: (row) => row.kafka_partition,
  kafka_offset: (row) => row.kafka_offset,
};

function keyBytes(number: number, wireType: number): number[] {
  const bytes: number[] = [];
  let key = number * 8 + wireType;
  while (key >= 128) {
    bytes.push((key & 0x7f) | 0x80);
    key >>>= 7;
  }
  bytes.push(key);
  return bytes;
}

const WIRE: Record<Kind, number> = { string: 2, int64: 0, double: 1, bool: 0 };

/** A growing byte buffer that rows are written into. */
interface Out {
  bytes: Uint8Array;
  view: DataView;
  at: number;
}

function ensure(out: Out, more: number): void {
  if (out.at + more <= out.bytes.length) return;
  let size = out.bytes.length * 2;
  while (size < out.at + more) size *= 2;
  const bytes = new Uint8Array(size);
  bytes.set(out.bytes.subarray(0, out.at));
  out.bytes = bytes;
  out.view = new DataView(bytes.buffer);
}

function writeVarint32(out: Out, value: number): void {
  let rest = value >>> 0;
  const bytes = out.bytes;
  while (rest >= 128) {
    bytes[out.at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  bytes[out.at++] = rest;
}

/** A 64-bit two's complement varint of an integer number (as protobuf's `int64`). */
function writeInt64(out: Out, value: number): void {
  let negative = value < 0;
  let magnitude = negative ? -value : value;
  if (!Number.isFinite(magnitude)) {
    magnitude = 0;
    negative = false;
  }
  let lo = magnitude >>> 0;
  let hi = Math.floor((magnitude - lo) / 4_294_967_296) >>> 0;
  if (negative) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 0xffffffff) {
      lo = 0;
      if (++hi > 0xffffffff) hi = 0;
    }
  }
  const bytes = out.bytes;
  while (hi !== 0) {
    bytes[out.at++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo >= 128) {
    bytes[out.at++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  bytes[out.at++] = lo;
}

/** The UTF-8 length of `text` (a lone surrogate counts as U+FFFD, as `TextEncoder` writes it). */
function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length += 4;
        i++;
      } else length += 3;
    } else length += 3;
  }
  return length;
}

function writeUtf8(out: Out, text: string): void {
  const bytes = out.bytes;
  let at = out.at;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes[at++] = c;
    } else if (c < 0x800) {
      bytes[at++] = 0xc0 | (c >> 6);
      bytes[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          bytes[at++] = 0xf0 | (c >> 18);
          bytes[at++] = 0x80 | ((c >> 12) & 0x3f);
          bytes[at++] = 0x80 | ((c >> 6) & 0x3f);
          bytes[at++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      bytes[at++] = 0xe0 | (c >> 12);
      bytes[at++] = 0x80 | ((c >> 6) & 0x3f);
      bytes[at++] = 0x80 | (c & 0x3f);
    }
  }
  out.at = at;
}

/** Microseconds since the epoch of a time given as text, a `Date` or a number (already µs). */
function micros(field: Field, value: string | number | Date): number {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return value.getTime() * 1000;
  if (value !== field.lastTime) {
    field.lastMicros = parseEventTime(value) * 1000;
    field.lastTime = value;
  }
  return field.lastMicros;
}

/** Writes one value to its field; null and values the field cannot hold are left out. */
function writeValue(out: Out, field: Field, value: StorageValue | undefined): void {
  if (value === null || value === undefined) return;
  switch (field.kind) {
    case "string": {
      const text = typeof value === "string"
        ? value
        : value instanceof Date
        ? value.toISOString()
        : String(value);
      const length = text.length * 3 < 128 ? -1 : utf8Length(text);
      ensure(out, field.key.length + 5 + (length < 0 ? text.length * 3 : length));
      for (const byte of field.key) out.bytes[out.at++] = byte;
      if (length >= 0) {
        writeVarint32(out, length);
        writeUtf8(out, text);
      } else {
        // At most 127 bytes: a one-byte length, filled in once the text is written.
        const lengthAt = out.at++;
        writeUtf8(out, text);
        out.bytes[lengthAt] = out.at - lengthAt - 1;
      }
      return;
    }
    case "int64": {
      if (typeof value === "boolean") return;
      const number = field.type === "TIMESTAMP"
        ? micros(field, value)
        : typeof value === "string"
        ? Number(value)
        : typeof value === "number"
        ? value
        : undefined;
      if (number === undefined || Number.isNaN(number)) return;
      ensure(out, field.key.length + 10);
      for (const byte of field.key) out.bytes[out.at++] = byte;
      writeInt64(out, Math.trunc(number));
      return;
    }
    case "double": {
      const number = typeof value === "number"
        ? value
        : typeof value === "string"
        ? Number(value)
        : undefined;
      if (number === undefined) return;
      ensure(out, field.key.length + 8);
      for (const byte of field.key) out.bytes[out.at++] = byte;
      out.view.setFloat64(out.at, number, true);
      out.at += 8;
      return;
    }
    case "bool": {
      if (typeof value !== "boolean") return;
      ensure(out, field.key.length + 1);
      for (const byte of field.key) out.bytes[out.at++] = byte;
      out.bytes[out.at++] = value ? 1 : 0;
      return;
    }
  }
}

/** Reads the pass-through value of a play row for `column`, as the column takes it. */
function passThrough({ name, type }: Column): (row: PlayRow) => StorageValue {
  return (row) => {
    const fields = row.fields;
    if (fields === undefined || !Object.hasOwn(fields, name)) return null;
    return columnValue(fields[name], type);
  };
}

/**
 * Compiles the encoder of rows described by `columns` (default: the plays
 * columns), in their order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileRowEncoder } from "./row_encoder.ts";
 * import { PLAYS_COLUMNS } from "../schema.ts";
 * const encoder = compileRowEncoder([...PLAYS_COLUMNS, {
 *   name: "mood", type: "STRING", mode: "NULLABLE", description: "",
 * }]);
 * const [bytes] = encoder.plays([{
 *   event_id: "e1", user_id: 7, artist: "a", song_id: 3, song_name: "s",
 *   event_type: "song_completed", timestamp: "1970-01-01T00:00:00.001Z",
 *   ingested_at: "1970-01-01T00:00:00.002Z", kafka_partition: 1, kafka_offset: 42,
 *   fields: { mood: "calm" },
 * }]);
 * // Field 1 (event_id): key 0x0a, length 2, "e1".
 * assert.deepEqual([...bytes!.subarray(0, 4)], [0x0a, 2, 0x65, 0x31]);
 * // Field 7 (timestamp): key 0x38, 1,000 µs as a varint.
 * assert.ok(bytes!.join(",").includes("56,232,7"));
 * // Field 11 (mood): key 0x5a, "calm" at the end.
 * assert.deepEqual([...bytes!.subarray(-6)], [0x5a, 4, 0x63, 0x61, 0x6c, 0x6d]);
 * ```
 */
export function compileRowEncoder(columns: readonly Column[] = PLAYS_COLUMNS): RowEncoder {
  const fields: Field[] = columns.map((column, i) => ({
    name: column.name,
    type: column.type,
    kind: KIND[column.type],
    key: keyBytes(i + 1, WIRE[KIND[column.type]]),
    read: Object.hasOwn(CORE, column.name) ? CORE[column.name]! : passThrough(column),
    lastTime: "",
    lastMicros: Number.NaN,
  }));
  let sizeHint = 256;

  function encode<Row>(rows: readonly Row[], write: (out: Out, row: Row) => void): Uint8Array[] {
    const bytes = new Uint8Array(Math.max(256, sizeHint * rows.length));
    const out: Out = { bytes, view: new DataView(bytes.buffer), at: 0 };
    const ends: number[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      write(out, rows[i]!);
      ends[i] = out.at;
    }
    if (rows.length > 0) sizeHint = Math.ceil((out.at / rows.length) * 1.25);
    const result: Uint8Array[] = new Array(rows.length);
    let start = 0;
    for (let i = 0; i < rows.length; i++) {
      result[i] = out.bytes.subarray(start, ends[i]);
      start = ends[i]!;
    }
    return result;
  }

  // Fields are written in field-number order, as protobuf writers do.
  return {
    plays: (rows) =>
      encode(rows, (out, row) => {
        for (const field of fields) writeValue(out, field, field.read(row));
      }),
    storage: (rows) =>
      encode(rows, (out, row) => {
        for (const field of fields) writeValue(out, field, row[field.name]);
      }),
  };
}
