import assert from "node:assert/strict";
import { parseEvent, type SongCompleted } from "../../shared/event.ts";
import {
  columnFor,
  columnTypeOf,
  fitsColumn,
  PLAYS_COLUMNS,
  playsTableMetadata,
  schemaJson,
  shapeFields,
  toRow,
} from "../../shared/schema.ts";

const event: SongCompleted = parseEvent({
  event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a",
  user_id: 7,
  artist: "tony-allen",
  song_id: 3,
  song_name: "secret-agent",
  event_type: "song_completed",
  timestamp: "2022-11-03 07:22:13",
});

Deno.test("toRow() adds the ingestion metadata to the event", () => {
  assert.deepEqual(toRow(event, 4, "12345", "2026-11-24T19:30:00.000Z"), {
    ...event,
    ingested_at: "2026-11-24T19:30:00.000Z",
    kafka_partition: 4,
    kafka_offset: 12345,
  });
});

Deno.test("toRow() keeps the offset exact within the safe integer range", () => {
  const row = toRow(event, 0, String(Number.MAX_SAFE_INTEGER), "2026-11-24T19:30:00.000Z");
  assert.equal(row.kafka_offset, Number.MAX_SAFE_INTEGER);
});

/** The table's columns, written out: a change to the schema must change this test. */
const EXPECTED_COLUMNS = [
  { name: "event_id", type: "STRING", mode: "REQUIRED" },
  { name: "user_id", type: "INT64", mode: "REQUIRED" },
  { name: "artist", type: "STRING", mode: "REQUIRED" },
  { name: "song_id", type: "INT64", mode: "REQUIRED" },
  { name: "song_name", type: "STRING", mode: "REQUIRED" },
  { name: "event_type", type: "STRING", mode: "REQUIRED" },
  { name: "timestamp", type: "TIMESTAMP", mode: "REQUIRED" },
  { name: "ingested_at", type: "TIMESTAMP", mode: "REQUIRED" },
  { name: "kafka_partition", type: "INT64", mode: "REQUIRED" },
  { name: "kafka_offset", type: "INT64", mode: "REQUIRED" },
];

Deno.test("PLAYS_COLUMNS are the event's fields plus the ingestion metadata, in order", () => {
  assert.deepEqual(
    PLAYS_COLUMNS.map(({ name, type, mode }) => ({ name, type, mode })),
    EXPECTED_COLUMNS,
  );
  // ... and exactly the keys of a row.
  assert.deepEqual(
    Object.keys(toRow(event, 0, "0", "")).sort(),
    EXPECTED_COLUMNS.map((column) => column.name).sort(),
  );
});

Deno.test("PLAYS_COLUMNS types match the row values", () => {
  const row = toRow(event, 1, "2", "2026-11-24T19:30:00.000Z") as unknown as Record<
    string,
    unknown
  >;
  for (const column of PLAYS_COLUMNS) {
    const value = row[column.name];
    assert.equal(column.mode, "REQUIRED", column.name);
    assert.ok(column.description.length > 0, column.name);
    if (column.type === "INT64") assert.ok(Number.isSafeInteger(value), column.name);
    else if (column.type === "TIMESTAMP") {
      assert.match(String(value), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, column.name);
    } else assert.equal(typeof value, "string", column.name);
  }
  const types = Object.fromEntries(PLAYS_COLUMNS.map((column) => [column.name, column.type]));
  assert.equal(types.timestamp, "TIMESTAMP");
  assert.equal(types.ingested_at, "TIMESTAMP");
  assert.equal(types.user_id, "INT64");
  assert.equal(types.song_id, "INT64");
  assert.equal(types.event_id, "STRING");
});

Deno.test("playsTableMetadata() partitions by day on timestamp and clusters by artist, song_id", () => {
  const metadata = playsTableMetadata();
  assert.deepEqual(metadata.timePartitioning, { type: "DAY", field: "timestamp" });
  assert.deepEqual(metadata.clustering, { fields: ["artist", "song_id"] });
  const fields = (metadata.schema as { fields: Array<Record<string, unknown>> }).fields;
  assert.deepEqual(
    fields.map(({ name, type, mode }) => ({ name, type, mode })),
    EXPECTED_COLUMNS,
  );
  assert.ok(fields.every((field) => typeof field.description === "string" && field.description));
});

Deno.test("playsTableMetadata() returns a fresh copy each time", () => {
  const first = playsTableMetadata();
  (first.schema as { fields: Array<{ name: string }> }).fields[0]!.name = "changed";
  assert.equal(PLAYS_COLUMNS[0]!.name, "event_id");
  assert.notEqual(playsTableMetadata().schema, first.schema);
});

Deno.test("shapeFields() under each --schema-evolution policy", () => {
  const fields = { country: "fr", duration_ms: 215_000, ingested_at: "x", "2nd": 1 };
  assert.deepEqual(shapeFields(fields, "add-columns"), {
    fields: { country: "fr", duration_ms: 215_000 },
    dropped: ["2nd", "ingested_at"],
  });
  assert.deepEqual(shapeFields(fields, "extra-column").fields, { extra: fields });
  assert.deepEqual(shapeFields(fields, "off"), {
    fields: undefined,
    dropped: ["2nd", "country", "duration_ms", "ingested_at"],
  });
  assert.deepEqual(shapeFields(undefined, "add-columns"), { fields: undefined, dropped: [] });
});

Deno.test("columnTypeOf() and fitsColumn(): a type is inferred once, later values must fit it", () => {
  assert.equal(columnFor("played_at", "2026-11-24T19:22:13.000Z")?.type, "TIMESTAMP");
  assert.equal(columnFor("played_at", "2026-11-24 19:22:13")?.type, "STRING");
  assert.equal(columnFor("note", null), undefined);
  assert.equal(columnFor("n", 1)?.mode, "NULLABLE");
  assert.equal(columnTypeOf([1, 2]), "JSON");
  assert.equal(fitsColumn(1.5, "INT64"), false);
  assert.equal(fitsColumn("yes", "BOOL"), false);
  assert.equal(fitsColumn([1], "JSON"), true);
});

Deno.test("playsTableMetadata() adds the extra column only with extra-column", () => {
  const fields = (policy: "add-columns" | "extra-column" | "off") => {
    const schema = playsTableMetadata(policy).schema;
    return JSON.stringify(schema).includes('"name":"extra"');
  };
  assert.equal(fields("add-columns"), false);
  assert.equal(fields("off"), false);
  assert.equal(fields("extra-column"), true);
  assert.deepEqual(JSON.parse(schemaJson()).length, PLAYS_COLUMNS.length);
});
