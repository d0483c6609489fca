// Columns dropped or retyped by hand in BigQuery while the consumer runs,
// against the real broker and the local BigQuery.
//
// What each BigQuery does when a column changes under an open write stream:
// - the local BigQuery (bqemulator 1.4.0, grpc_api/write_servicer.py) binds a
//   connection to the table's schema at its first append. An append on that
//   connection after a column was dropped fails with UNKNOWN ("Binder Error:
//   table … has 11 columns but 12 values were supplied"), yet the stream
//   counts its rows (its offset and finalize row count include them, though
//   nothing was stored); a new connection or a new stream described with the
//   dropped column is accepted and the value silently left out; a column
//   dropped and added again with another type takes the old values cast
//   (an int into a STRING column), with no error at all. Measured here.
// - real BigQuery (Google's documentation; not testable here): an append
//   whose descriptor names a field the table lacks is refused with the
//   StorageError code SCHEMA_MISMATCH_EXTRA_FIELDS, and an append answer may
//   carry `updated_schema` once the table's schema changed (the Java client
//   picks such changes up "in the order of minutes").
// So the consumer does not rely on an error: it reads the table's columns
// again every --schema-check seconds, before each new stream and after a
// failed append, and settles a stream whose columns changed by asking
// BigQuery which of its rows it holds (never by the row count).
//
// On the local BigQuery a change by hand is an ALTER (storage) plus a
// tables.patch (the schema tables.get shows); real BigQuery needs the ALTER only.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import {
  consumerArgs,
  goodEvent,
  metricsPort,
  pipelineNames,
  produceRaw,
  query,
  readTopic,
  rowCounts,
  startScript,
  stopScript,
  waitFor,
  waitForStored,
  warehouseFor,
} from "../support/harness.ts";
import { parseExposition } from "../support/prometheus.ts";

type Field = { name: string; type: string; mode?: string };

/** The table's columns as `TYPE MODE`, by name. */
async function columns(table: string): Promise<Map<string, string>> {
  const [metadata] = await warehouseFor(table).table.getMetadata();
  const fields: Field[] = metadata?.schema?.fields ?? [];
  return new Map(fields.map((field) => [field.name, `${field.type} ${field.mode ?? "NULLABLE"}`]));
}

/** `column` of every row, by event id. */
async function valuesOf(table: string, column: string): Promise<Map<string, unknown>> {
  const rows = await query(
    warehouseFor(table),
    `SELECT event_id, ${column} AS value FROM \`livecharts-local.music.${table}\``,
  );
  return new Map(rows.map((row) => [String(row.event_id), row.value]));
}

/**
 * Changes `table` by hand, as an operator would: the `statements` (each
 * `ALTER TABLE t …` after the table's name), then the schema tables.get shows.
 */
async function alterByHand(
  table: string,
  statements: string[],
  fields: (fields: Field[]) => Field[],
): Promise<void> {
  const warehouse = warehouseFor(table);
  for (const statement of statements) {
    // The local BigQuery (DuckDB) refuses an ALTER that races the consumer's
    // inserts ("reverted by a concurrent transaction"); an operator asks again.
    for (let attempt = 1;; attempt++) {
      try {
        await query(warehouse, `ALTER TABLE \`livecharts-local.music.${table}\` ${statement}`);
        break;
      } catch (error) {
        if (attempt >= 10 || !/concurrent transaction/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }
  const [metadata] = await warehouse.table.getMetadata();
  await warehouse.table.setMetadata({ schema: { fields: fields(metadata.schema.fields) } });
}

test({
  name:
    "consumer running while a column is dropped and another added by hand: the dropped one is added again, each event once",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("schema_drop");
    const before = Array.from({ length: 300 }, (_, i) => goodEvent({ country: "ng", rank: i }));
    await produceRaw(n.topic, before.map((event) => JSON.stringify(event)));
    const consumer = await startScript("consume", consumerArgs(n, ["--schema-check", "1"]));
    // The producers go on as before: the hand-made column gets nothing from them.
    const after = Array.from(
      { length: 300 },
      (_, i) => goodEvent({ country: "fr", rank: 1_000 + i }),
    );
    let stderr = "";
    try {
      await waitForStored(n.table, 300);
      assert.equal((await columns(n.table)).get("country"), "STRING NULLABLE");
      await alterByHand(
        n.table,
        ["DROP COLUMN country", "ADD COLUMN mood STRING"],
        (fields) => [
          ...fields.filter((field) => field.name !== "country"),
          { name: "mood", type: "STRING", mode: "NULLABLE" },
        ],
      );
      await waitFor(
        "the consumer to notice the dropped column",
        () => /columns of .* changed: dropped: country/.test(consumer.stderr()),
      );
      await produceRaw(n.topic, after.map((event) => JSON.stringify(event)));
      await waitForStored(n.table, 600);
    } finally {
      stderr = await stopScript(consumer);
    }
    assert.match(stderr, /Added columns to .*country STRING/, "country added again");
    const found = await columns(n.table);
    assert.equal(found.get("country"), "STRING NULLABLE");
    assert.equal(found.get("mood"), "STRING NULLABLE");
    assert.deepEqual(await rowCounts(n.table), { rows: 600, distinct: 600 });
    const countries = await valuesOf(n.table, "country");
    const moods = await valuesOf(n.table, "mood");
    const ranks = await valuesOf(n.table, "rank");
    for (const event of after) {
      assert.equal(countries.get(event.event_id), "fr");
      assert.equal(moods.get(event.event_id), null);
      assert.equal(Number(ranks.get(event.event_id)), event.rank);
    }
    // The values of the dropped column went with it.
    for (const event of before) assert.equal(countries.get(event.event_id), null);
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0, "no dead letter");
  },
});

test({
  name:
    "consumer running while a pass-through column is retyped by hand: the values that no longer fit are schema-conflict dead letters, the others stored once",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("schema_retype");
    const before = Array.from({ length: 200 }, (_, i) => goodEvent({ duration_ms: 200_000 + i }));
    await produceRaw(n.topic, before.map((event) => JSON.stringify(event)));
    const consumer = await startScript("consume", consumerArgs(n, ["--schema-check", "1"]));
    // After the change, some producers still send an integer, the others a text.
    const after = Array.from(
      { length: 200 },
      (_, i) => goodEvent({ duration_ms: i % 4 === 0 ? 300_000 + i : `${i} s` }),
    );
    let stderr = "";
    try {
      await waitForStored(n.table, 200);
      assert.equal((await columns(n.table)).get("duration_ms"), "INT64 NULLABLE");
      // Real BigQuery only widens a type in place (INT64 to NUMERIC or FLOAT64):
      // a column of another type is dropped and added again.
      await alterByHand(
        n.table,
        ["DROP COLUMN duration_ms", "ADD COLUMN duration_ms STRING"],
        (fields) =>
          fields.map((field) =>
            field.name === "duration_ms" ? { ...field, type: "STRING", mode: "NULLABLE" } : field
          ),
      );
      await waitFor(
        "the consumer to notice the retyped column",
        () => /columns of .* changed: retyped: duration_ms INT64 → STRING/.test(consumer.stderr()),
      );
      await produceRaw(n.topic, after.map((event) => JSON.stringify(event)));
      const texts = after.filter((event) => typeof event.duration_ms === "string").length;
      await waitForStored(n.table, 200 + texts);
      await waitFor(
        "the dead letters",
        async () => (await readTopic(`${n.topic}.dlq`)).length >= after.length - texts,
      );
    } finally {
      stderr = await stopScript(consumer);
    }
    assert.doesNotMatch(stderr, /Added columns to .*duration_ms STRING/);
    const conflicting = after.filter((event) => typeof event.duration_ms === "number");
    const letters = await readTopic(`${n.topic}.dlq`);
    assert.deepEqual(
      letters.map((letter) => JSON.parse(new TextDecoder().decode(letter.value!)).event_id).sort(),
      conflicting.map((event) => event.event_id).sort(),
    );
    for (const letter of letters) {
      assert.equal(letter.headers["error.kind"], "schema-conflict");
      assert.equal(letter.headers["error.field"], "duration_ms");
      assert.equal(letter.headers["error.column_type"], "STRING");
      assert.equal(letter.headers["error.value_type"], "INT64");
    }
    const stored = 200 + after.length - conflicting.length;
    assert.deepEqual(await rowCounts(n.table), { rows: stored, distinct: stored });
    const durations = await valuesOf(n.table, "duration_ms");
    for (const event of after) {
      if (typeof event.duration_ms === "string") {
        assert.equal(durations.get(event.event_id), event.duration_ms);
      }
    }
    assert.equal((await columns(n.table)).get("duration_ms"), "STRING NULLABLE");
  },
});

test({
  name:
    "consumer blocks while a core column is dropped by hand, creating no write stream, and goes on once it is back: each event once",
  timeoutMs: 180_000,
  fn: async () => {
    const n = pipelineNames("schema_core");
    const before = Array.from({ length: 300 }, () => goodEvent());
    await produceRaw(n.topic, before.map((event) => JSON.stringify(event)));
    const consumer = await startScript(
      "consume",
      consumerArgs(n, ["--schema-check", "1", "--metrics-port", "0"]),
    );
    const during = Array.from({ length: 300 }, () => goodEvent());
    let stderr = "";
    try {
      const port = await metricsPort(consumer);
      await waitForStored(n.table, 300);
      await alterByHand(
        n.table,
        ["DROP COLUMN song_name"],
        (fields) => fields.filter((field) => field.name !== "song_name"),
      );
      await produceRaw(n.topic, during.map((event) => JSON.stringify(event)));
      const health = async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
      await waitFor("the consumer to block", async () => await health() === 503);
      const created = async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return parseExposition(text).samples
          .filter((sample) => sample.name === "livecharts_consumer_write_streams_created_total")
          .reduce((sum, sample) => sum + sample.value, 0);
      };
      const blockedAt = await created();
      // Blocked for ten seconds (the writers look at the table each second or
      // two, then less often): still blocked, no stream created, one ERROR line.
      const since = Date.now();
      await waitFor("ten seconds blocked", () => Date.now() - since >= 10_000, 20_000);
      assert.equal(await health(), 503, "still blocked");
      assert.equal(await created(), blockedAt, "no write stream created while blocked");
      const errors = consumer.stderr().match(/Cannot write to BigQuery \(schema-mismatch\)/g);
      assert.equal(errors?.length, 1, "one ERROR line");
      // Back by hand (the values dropped with it are gone: old rows read NULL).
      await alterByHand(
        n.table,
        ["ADD COLUMN song_name STRING"],
        (fields) => [...fields, { name: "song_name", type: "STRING", mode: "NULLABLE" }],
      );
      await waitForStored(n.table, 600);
      await waitFor("the consumer to work again", async () => await health() === 200);
    } finally {
      stderr = await stopScript(consumer);
    }
    assert.match(stderr, /no row fits the table's columns \(column 'song_name' is missing\)/);
    assert.deepEqual(await rowCounts(n.table), { rows: 600, distinct: 600 });
    const names = await valuesOf(n.table, "song_name");
    for (const event of during) assert.equal(names.get(event.event_id), event.song_name);
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0, "no dead letter");
  },
});

test({
  name:
    "consumer writing under load while a column is dropped by hand: appends in flight fail or are settled, each event once",
  timeoutMs: 180_000,
  fn: async () => {
    const n = pipelineNames("schema_drop_load");
    const events = Array.from({ length: 3_000 }, (_, i) => goodEvent({ country: "ng", rank: i }));
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)));
    // Small appends, several in flight: the drop lands between them.
    const consumer = await startScript(
      "consume",
      consumerArgs(n, ["--schema-check", "1", "--batch-rows", "25"]),
    );
    let stderr = "";
    try {
      await waitForStored(n.table, 300);
      await alterByHand(
        n.table,
        ["DROP COLUMN country"],
        (fields) => fields.filter((field) => field.name !== "country"),
      );
      const atDrop = await rowCounts(n.table);
      await waitForStored(n.table, 3_000);
      assert.ok(atDrop.rows < 3_000, `${atDrop.rows} rows stored when the column was dropped`);
    } finally {
      stderr = await stopScript(consumer);
    }
    // Noticed by a failed append (UNKNOWN on the local BigQuery: its rows
    // counted, not stored, so the stream's count is not trusted) or by a look.
    assert.match(stderr, /columns of .* changed: dropped: country/);
    assert.match(stderr, /Added columns to .*country STRING/, "country added again");
    assert.deepEqual(await rowCounts(n.table), { rows: 3_000, distinct: 3_000 });
    assert.equal((await columns(n.table)).get("country"), "STRING NULLABLE");
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0, "no dead letter");
  },
});
