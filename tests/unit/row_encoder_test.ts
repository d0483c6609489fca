// The precompiled row encoder writes the same bytes as Google's JSON writer
// (managedwriter.JSONWriter) for the same rows and the same descriptor.
import assert from "node:assert/strict";
import { adapt, managedwriter } from "@google-cloud/bigquery-storage";
import { compileRowEncoder } from "../../shared/bigquery/row_encoder.ts";
import { type StorageRow, storageRow } from "../../shared/bigquery/storage_write.ts";
import { type Column, type PlayRow, PLAYS_COLUMNS } from "../../shared/schema.ts";

/** What Google's JSON writer would send for `rows`, captured before it leaves. */
function googleBytes(columns: readonly Column[], rows: StorageRow[]): Uint8Array[] {
  const protoDescriptor = adapt.convertStorageSchemaToProto2Descriptor(
    adapt.convertBigQuerySchemaToStorageTableSchema({
      fields: columns.map(({ name, type, mode }) => ({ name, type, mode })),
    }),
    "root",
  );
  let sent: unknown;
  // Only what JSONWriter touches of a connection: nothing is sent anywhere.
  const connection = {
    onSchemaUpdated: () => ({ off() {} }),
    getStreamId: () => "stream",
    write: (request: unknown) => {
      sent = request;
      return {};
    },
  };
  const writer = new managedwriter.JSONWriter({
    connection: connection as unknown as ConstructorParameters<
      typeof managedwriter.JSONWriter
    >[0]["connection"],
    protoDescriptor,
  });
  writer.appendRows(rows, 0);
  const serialized: unknown = Reflect.get(
    Reflect.get(Reflect.get(Object(sent), "protoRows") ?? {}, "rows") ?? {},
    "serializedRows",
  );
  assert.ok(Array.isArray(serialized), "Google's writer sent no serialized rows");
  return serialized.filter((row): row is Uint8Array => row instanceof Uint8Array);
}

const play: PlayRow = {
  event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a",
  user_id: 123_456_789,
  artist: "tony-allen",
  song_id: 3,
  song_name: "secret-agent",
  event_type: "song_completed",
  timestamp: "2026-12-05T09:00:00.123Z",
  ingested_at: "2026-12-05T09:00:01.000Z",
  kafka_partition: 2,
  kafka_offset: 9_876_543_210,
};

const columnsWithExtras: Column[] = [
  ...PLAYS_COLUMNS,
  ...(
    [
      ["mood", "STRING"],
      ["device", "JSON"],
      ["duration_ms", "INT64"],
      ["score", "FLOAT64"],
      ["explicit", "BOOL"],
      ["released_at", "TIMESTAMP"],
      ["long_text", "STRING"],
    ] as const
  ).map(([name, type]) => ({ name, type, mode: "NULLABLE" as const, description: "" })),
];

const rows: PlayRow[] = [
  play,
  { ...play, user_id: -5, song_id: 0, kafka_offset: 0, timestamp: "1969-12-31T23:59:59.999Z" },
  { ...play, song_name: "Café – 東京 🎵", artist: "a".repeat(200) },
  {
    ...play,
    fields: {
      mood: "calm",
      device: { os: "ios", version: [1, 2] },
      duration_ms: 215_000,
      score: 0.75,
      explicit: false,
      released_at: "2020-01-02T03:04:05.678Z",
      long_text: "é".repeat(100) + "x".repeat(300),
      not_a_column: "dropped",
    },
  },
  { ...play, fields: { mood: null, score: -1e-9, explicit: true, duration_ms: -1 } },
  { ...play, fields: { Mood: "other case: no column of that exact name", device: "text" } },
];

Deno.test("compileRowEncoder() writes the bytes Google's JSON writer writes (plays columns)", () => {
  const plain = rows.map(({ fields: _, ...row }) => row);
  const expected = googleBytes(PLAYS_COLUMNS, plain.map((row) => storageRow(row)));
  const encoder = compileRowEncoder(PLAYS_COLUMNS);
  assert.deepEqual(encoder.plays(plain).map((b) => [...b]), expected.map((b) => [...b]));
});

Deno.test("compileRowEncoder() writes the bytes Google's JSON writer writes (pass-through columns)", () => {
  const types = new Map(columnsWithExtras.map((c) => [c.name.toLowerCase(), c.type]));
  const expected = googleBytes(columnsWithExtras, rows.map((row) => storageRow(row, types)));
  const encoder = compileRowEncoder(columnsWithExtras);
  assert.deepEqual(encoder.plays(rows).map((b) => [...b]), expected.map((b) => [...b]));
  // Rows already shaped for the Storage Write API give the same bytes.
  const shaped = encoder.storage(rows.map((row) => storageRow(row, types)));
  assert.deepEqual(shaped.map((b) => [...b]), expected.map((b) => [...b]));
});

Deno.test("compileRowEncoder() keeps each row's bytes apart when the buffer grows", () => {
  const encoder = compileRowEncoder(PLAYS_COLUMNS);
  const small = encoder.plays([play]); // a small size hint for the next call
  const many = Array.from({ length: 50 }, (_, i) => ({ ...play, song_name: "x".repeat(i * 40) }));
  const encoded = encoder.plays(many);
  const expected = googleBytes(PLAYS_COLUMNS, many.map((row) => storageRow(row)));
  assert.deepEqual(encoded.map((b) => [...b]), expected.map((b) => [...b]));
  assert.deepEqual([...small[0]!], [...googleBytes(PLAYS_COLUMNS, [storageRow(play)])[0]!]);
});

Deno.test("compileRowEncoder() writes each row's own times when rows share some and not others", () => {
  const encoder = compileRowEncoder();
  const times = [
    "2026-12-05T09:00:01.000Z",
    "2026-12-05T09:00:02.500Z",
    "2026 12 05",
    "0050-01-01T00:00:00.000Z",
  ];
  const rows = Array.from({ length: 40 }, (_, i) => ({
    ...play,
    // Runs of one reading time, and event times that change at every row.
    ingested_at: times[Math.floor(i / 7) % times.length]!,
    timestamp: times[(i * 3) % times.length]!,
  }));
  const expected = googleBytes(PLAYS_COLUMNS, rows.map((row) => storageRow(row)));
  assert.deepEqual(encoder.plays(rows).map((b) => [...b]), expected.map((b) => [...b]));
  // Again, in another order, through the same encoder.
  rows.reverse();
  const again = googleBytes(PLAYS_COLUMNS, rows.map((row) => storageRow(row)));
  assert.deepEqual(encoder.plays(rows).map((b) => [...b]), again.map((b) => [...b]));
});
