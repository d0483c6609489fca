/**
 * The plays table: its columns, partitioning and clustering, defined once and
 * used both for the emulator and for real BigQuery, and the mapping of an
 * event read from Kafka to a row.
 *
 * @module
 */

import type { PassThrough, SongCompleted } from "./event.ts";

/** The column types livecharts writes. */
export type ColumnType = "STRING" | "INT64" | "FLOAT64" | "BOOL" | "TIMESTAMP" | "JSON";

/** One column of a BigQuery schema. */
export interface Column {
  name: string;
  type: ColumnType;
  mode: "REQUIRED" | "NULLABLE";
  description: string;
}

/** Columns of the plays table: every event field plus ingestion metadata. */
export const PLAYS_COLUMNS: readonly Column[] = [
  {
    name: "event_id",
    type: "STRING",
    mode: "REQUIRED",
    description: "Unique play id (UUID); count DISTINCT event_id",
  },
  { name: "user_id", type: "INT64", mode: "REQUIRED", description: "Listener" },
  { name: "artist", type: "STRING", mode: "REQUIRED", description: "Artist slug" },
  { name: "song_id", type: "INT64", mode: "REQUIRED", description: "Song id within the artist" },
  { name: "song_name", type: "STRING", mode: "REQUIRED", description: "Song name" },
  { name: "event_type", type: "STRING", mode: "REQUIRED", description: "Always song_completed" },
  { name: "timestamp", type: "TIMESTAMP", mode: "REQUIRED", description: "Event time (UTC)" },
  {
    name: "ingested_at",
    type: "TIMESTAMP",
    mode: "REQUIRED",
    description: "When the consumer wrote the row",
  },
  { name: "kafka_partition", type: "INT64", mode: "REQUIRED", description: "Source partition" },
  { name: "kafka_offset", type: "INT64", mode: "REQUIRED", description: "Source offset" },
];

/**
 * What the consumer does with an event's pass-through fields
 * (`--schema-evolution`):
 * - `add-columns`: each becomes a NULLABLE column of its own, added to the
 *   table the first time it is seen, its type inferred from that value;
 * - `extra-column`: all of them go, as one JSON object, to the `extra` column;
 * - `off`: they are dropped (with one warning naming them).
 */
export type SchemaEvolution = "add-columns" | "extra-column" | "off";

/** The policies, the default first. */
export const SCHEMA_EVOLUTIONS: readonly SchemaEvolution[] = ["add-columns", "extra-column", "off"];

/** The column that holds every pass-through field with `--schema-evolution extra-column`. */
export const EXTRA_COLUMN: Column = {
  name: "extra",
  type: "JSON",
  mode: "NULLABLE",
  description: "Fields of the event beyond the core ones (--schema-evolution extra-column)",
};

/**
 * The columns of the table livecharts creates under `policy`: the plays
 * columns, plus `extra` with `extra-column`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { playsColumns, PLAYS_COLUMNS } from "./schema.ts";
 * assert.equal(playsColumns("add-columns").length, PLAYS_COLUMNS.length);
 * assert.equal(playsColumns("extra-column").at(-1)?.name, "extra");
 * ```
 */
export function playsColumns(policy: SchemaEvolution = "add-columns"): readonly Column[] {
  return policy === "extra-column" ? [...PLAYS_COLUMNS, EXTRA_COLUMN] : PLAYS_COLUMNS;
}

/**
 * The schema livecharts creates under `policy`, as the JSON list of fields
 * `bq mk --schema` and `tables.insert` take (`--print-schema`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaJson } from "./schema.ts";
 * const fields = JSON.parse(schemaJson("extra-column"));
 * assert.deepEqual(fields[0], {
 *   name: "event_id", type: "STRING", mode: "REQUIRED",
 *   description: "Unique play id (UUID); count DISTINCT event_id",
 * });
 * assert.equal(fields.at(-1).type, "JSON");
 * ```
 */
export function schemaJson(policy: SchemaEvolution = "add-columns"): string {
  return JSON.stringify(playsColumns(policy), null, 2);
}

/** Table metadata for `tables.insert`: schema, day partitions, clustering. */
export function playsTableMetadata(
  policy: SchemaEvolution = "add-columns",
): Record<string, unknown> {
  return {
    schema: { fields: playsColumns(policy).map((column) => ({ ...column })) },
    timePartitioning: { type: "DAY", field: "timestamp" },
    clustering: { fields: ["artist", "song_id"] },
    description: "song_completed events streamed from Kafka by livecharts",
  };
}

/** A row of the plays table. */
export interface PlayRow extends SongCompleted {
  ingested_at: string;
  kafka_partition: number;
  kafka_offset: number;
  /**
   * Values of columns beyond the plays columns, by column name, as JSON
   * values (shaped by {@linkcode shapeFields}); absent when there are none.
   */
  fields?: PassThrough | undefined;
}

/** Builds the row stored for an event read at `partition`/`offset`. */
export function toRow(
  event: SongCompleted,
  partition: number,
  offset: string,
  ingestedAt: string,
  fields?: PassThrough,
): PlayRow {
  // Field by field rather than spread: one object of one shape per row.
  const row: PlayRow = {
    event_id: event.event_id,
    user_id: event.user_id,
    artist: event.artist,
    song_id: event.song_id,
    song_name: event.song_name,
    event_type: event.event_type,
    timestamp: event.timestamp,
    ingested_at: ingestedAt,
    kafka_partition: partition,
    kafka_offset: Number(offset),
  };
  if (fields !== undefined) row.fields = fields;
  return row;
}

/** A BigQuery column name (letters, digits and underscores, not starting with a digit). */
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,299}$/;
/** Column names an event field may not take (BigQuery names are case-insensitive). */
const TAKEN = new Set([...PLAYS_COLUMNS, EXTRA_COLUMN].map((column) => column.name.toLowerCase()));

/** An event's pass-through fields as a row stores them, and those it does not store. */
export interface ShapedFields {
  /** Column values by column name; undefined when there are none. */
  fields: PassThrough | undefined;
  /** Names of the fields not stored (sorted). */
  dropped: string[];
}

/**
 * Shapes an event's pass-through `fields` into column values under
 * `policy`. `add-columns` keeps each field whose name can be a column and is
 * not taken by livecharts' own columns (`ingested_at`, `kafka_offset`,
 * `extra`, ...); a `null` value needs no column and is left out.
 * `extra-column` keeps them all as one object in `extra`; `off` drops them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapeFields } from "./schema.ts";
 * const fields = { country: "fr", "bad name": 1, kafka_offset: 3, note: null };
 * assert.deepEqual(shapeFields(fields, "add-columns"), {
 *   fields: { country: "fr" }, dropped: ["bad name", "kafka_offset"],
 * });
 * assert.deepEqual(shapeFields(fields, "extra-column"), { fields: { extra: fields }, dropped: [] });
 * assert.deepEqual(shapeFields({ country: "fr" }, "off"), { fields: undefined, dropped: ["country"] });
 * ```
 */
export function shapeFields(
  fields: PassThrough | undefined,
  policy: SchemaEvolution,
): ShapedFields {
  if (fields === undefined) return { fields: undefined, dropped: [] };
  if (policy === "off") return { fields: undefined, dropped: Object.keys(fields).sort() };
  if (policy === "extra-column") return { fields: { [EXTRA_COLUMN.name]: fields }, dropped: [] };
  let kept: PassThrough | undefined;
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (!COLUMN_NAME.test(name) || TAKEN.has(name.toLowerCase())) dropped.push(name);
    else if (value !== null) (kept ??= {})[name] = value;
  }
  return { fields: kept, dropped: dropped.sort() };
}

// An ISO-8601 time with a zone: 2026-11-24T19:22:13Z, 2026-11-24T19:22:13.123+01:00.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isIsoTime(value: string): boolean {
  return ISO_TIME.test(value) && Number.isFinite(Date.parse(value));
}

/**
 * The column type a JSON value calls for: `STRING`, `TIMESTAMP` (an
 * ISO-8601 string with a zone), `INT64` (a safe integer), `FLOAT64` (any
 * other number), `BOOL`, or `JSON` (an object or an array); undefined for
 * `null`, which fits any column.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnTypeOf } from "./schema.ts";
 * assert.equal(columnTypeOf("fr"), "STRING");
 * assert.equal(columnTypeOf("2026-11-24T19:22:13Z"), "TIMESTAMP");
 * assert.equal(columnTypeOf(215000), "INT64");
 * assert.equal(columnTypeOf(0.5), "FLOAT64");
 * assert.equal(columnTypeOf(true), "BOOL");
 * assert.equal(columnTypeOf({ os: "ios" }), "JSON");
 * assert.equal(columnTypeOf(null), undefined);
 * ```
 */
export function columnTypeOf(value: unknown): ColumnType | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return isIsoTime(value) ? "TIMESTAMP" : "STRING";
  if (typeof value === "number") return Number.isSafeInteger(value) ? "INT64" : "FLOAT64";
  if (typeof value === "boolean") return "BOOL";
  return "JSON";
}

/**
 * Whether `value` can be stored in a column of `type`: an integer in a
 * FLOAT64 column is fine, a number in a STRING column is not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitsColumn } from "./schema.ts";
 * assert.equal(fitsColumn(3, "FLOAT64"), true);
 * assert.equal(fitsColumn("2026-11-24T19:22:13Z", "STRING"), true);
 * assert.equal(fitsColumn("soon", "TIMESTAMP"), false);
 * assert.equal(fitsColumn(3, "STRING"), false);
 * assert.equal(fitsColumn(null, "INT64"), true);
 * ```
 */
export function fitsColumn(value: unknown, type: ColumnType): boolean {
  const own = columnTypeOf(value);
  if (own === undefined || own === type || type === "JSON") return true;
  if (type === "FLOAT64") return own === "INT64";
  if (type === "STRING") return own === "TIMESTAMP";
  return false;
}

/** A pass-through column as it is added for a field first seen with `value`. */
export function columnFor(name: string, value: unknown): Column | undefined {
  const type = columnTypeOf(value);
  return type === undefined ? undefined : {
    name,
    type,
    mode: "NULLABLE",
    description: "Added by livecharts for a field events carry (--schema-evolution add-columns)",
  };
}
