// Schema changes against the real broker and the local BigQuery: producers
// that add fields while the consumer runs, a field whose type changes in
// some events, and the extra-column policy.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { openWarehouse } from "../../shared/bigquery/warehouse.ts";
import { ensureTopSongsView, viewRef } from "../../shared/live/top_songs_view.ts";
import { openDestination } from "../../shared/bigquery/mod.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { PLAYS_COLUMNS } from "../../shared/schema.ts";
import {
  consumerArgs,
  goodEvent,
  pipelineNames,
  produceRaw,
  query,
  readTopic,
  rowCounts,
  runScript,
  startScript,
  stopScript,
  waitForStored,
  warehouseFor,
} from "../support/harness.ts";

/** The table's columns as `name TYPE MODE`, by name. */
async function columns(table: string): Promise<Map<string, string>> {
  const [metadata] = await warehouseFor(table).table.getMetadata();
  const fields: Array<Record<string, string>> = metadata?.schema?.fields ?? [];
  return new Map(fields.map((field) => [field.name!, `${field.type} ${field.mode}`]));
}

/** `column` of every row, by event id. */
async function valuesOf(table: string, column: string): Promise<Map<string, unknown>> {
  const rows = await query(
    warehouseFor(table),
    `SELECT event_id, ${column} AS value FROM \`livecharts-local.music.${table}\``,
  );
  return new Map(rows.map((row) => [String(row.event_id), row.value]));
}

test({
  name:
    "consumer stores two fields a producer adds mid-run as new columns: no restart, no dead letter, old rows NULL, each event once",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("schema_add");
    const before = Array.from({ length: 300 }, () => goodEvent());
    await produceRaw(n.topic, before.map((event) => JSON.stringify(event)));
    const consumer = await startScript("consume", consumerArgs(n));
    // The producer is upgraded: every event now carries country and duration_ms.
    const after = Array.from(
      { length: 300 },
      (_, i) => goodEvent({ country: i % 2 === 0 ? "ng" : "fr", duration_ms: 180_000 + i }),
    );
    try {
      await waitForStored(n.table, 300);
      const found = await columns(n.table);
      assert.equal(found.has("country"), false);
      await produceRaw(n.topic, after.map((event) => JSON.stringify(event)));
      await waitForStored(n.table, 600);
    } finally {
      const stderr = await stopScript(consumer);
      assert.match(stderr, /Added columns to .* country STRING/);
    }

    const found = await columns(n.table);
    assert.equal(found.get("country"), "STRING NULLABLE");
    assert.equal(found.get("duration_ms"), "INT64 NULLABLE");
    assert.deepEqual(await rowCounts(n.table), { rows: 600, distinct: 600 });
    const countries = await valuesOf(n.table, "country");
    const durations = await valuesOf(n.table, "duration_ms");
    for (const event of before) {
      assert.equal(countries.get(event.event_id), null, "an old row reads NULL");
      assert.equal(durations.get(event.event_id), null);
    }
    for (const event of after) {
      assert.equal(countries.get(event.event_id), event.country);
      assert.equal(Number(durations.get(event.event_id)), event.duration_ms);
    }
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0, "no dead letter");
    // The top_songs view, made over the table with its new columns, counts every play.
    const config = loadBigQueryConfig(["--table", n.table], {});
    const view = `${n.table}_top_songs`;
    await ensureTopSongsView(openWarehouse(config), view);
    const [all] = await query(
      openWarehouse(config),
      `SELECT SUM(plays) AS plays FROM ${viewRef(config, view)} WHERE time_window = 'all'`,
    );
    assert.equal(Number(all?.plays), 600);
  },
});

test({
  name:
    "consumer dead-letters the events whose field changed type (schema-conflict, the field and both types) and stores the others",
  timeoutMs: 120_000,
  fn: async () => {
    const n = pipelineNames("schema_conflict");
    // One partition: duration_ms is first seen as an integer.
    const events = Array.from(
      { length: 200 },
      (_, i) => goodEvent({ duration_ms: i % 50 === 49 ? "3:35" : 200_000 + i }),
    );
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)), 1);
    const run = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
    assert.equal(run.code, 0, run.stderr);

    const conflicting = events.filter((event) => typeof event.duration_ms === "string");
    assert.equal(conflicting.length, 4);
    const letters = await readTopic(`${n.topic}.dlq`);
    assert.deepEqual(
      letters.map((letter) => JSON.parse(new TextDecoder().decode(letter.value!)).event_id),
      conflicting.map((event) => event.event_id),
    );
    for (const letter of letters) {
      assert.equal(letter.headers["error.kind"], "schema-conflict");
      assert.equal(letter.headers["error.field"], "duration_ms");
      assert.equal(letter.headers["error.column_type"], "INT64");
      assert.equal(letter.headers["error.value_type"], "STRING");
    }
    assert.deepEqual(await rowCounts(n.table), { rows: 196, distinct: 196 });
    assert.equal((await columns(n.table)).get("duration_ms"), "INT64 NULLABLE");
  },
});

test({
  name: "consumer with --schema-evolution extra-column keeps every extra field in one JSON column",
  timeoutMs: 120_000,
  fn: async () => {
    const n = pipelineNames("schema_extra");
    const events = Array.from(
      { length: 60 },
      (_, i) => i < 30 ? goodEvent() : goodEvent({ device: { os: "ios" }, country: "fr" }),
    );
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)));
    const run = await runScript(
      "consume",
      consumerArgs(n, ["--exit-when-idle", "2", "--schema-evolution", "extra-column"]),
    );
    assert.equal(run.code, 0, run.stderr);

    const found = await columns(n.table);
    assert.equal(found.get("extra"), "JSON NULLABLE");
    assert.equal(found.has("country"), false);
    assert.deepEqual(await rowCounts(n.table), { rows: 60, distinct: 60 });
    const extras = await valuesOf(n.table, "extra");
    for (const [i, event] of events.entries()) {
      const stored = extras.get(event.event_id);
      if (i < 30) assert.equal(stored ?? null, null);
      else {
        assert.deepEqual(JSON.parse(String(stored)), {
          device: { os: "ios" },
          country: "fr",
        });
      }
    }
  },
});

test({
  name:
    "consumer with --schema-evolution off stores the core fields, adds no column and names the dropped fields once",
  timeoutMs: 120_000,
  fn: async () => {
    const n = pipelineNames("schema_off");
    const events = Array.from({ length: 40 }, () => goodEvent({ country: "fr", mood: "calm" }));
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)), 1);
    const run = await runScript(
      "consume",
      consumerArgs(n, ["--exit-when-idle", "2", "--schema-evolution", "off"]),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await rowCounts(n.table), { rows: 40, distinct: 40 });
    const found = await columns(n.table);
    assert.equal(found.has("country") || found.has("mood") || found.has("extra"), false);
    const warnings = run.stderr.match(
      /Events carry fields the table does not keep: country, mood/g,
    );
    assert.equal(warnings?.length, 1, run.stderr);
  },
});

test({
  name: "consume --print-schema prints the table livecharts would create, and exits",
  fn: async () => {
    const plain = await runScript("consume", ["--print-schema"]);
    assert.equal(plain.code, 0, plain.stderr);
    const fields: Array<{ name: string; type: string; mode: string }> = JSON.parse(plain.stdout);
    assert.deepEqual(fields.map((field) => field.name), PLAYS_COLUMNS.map((column) => column.name));
    const extra = await runScript("consume", [
      "--print-schema",
      "--schema-evolution",
      "extra-column",
    ]);
    assert.equal(JSON.parse(extra.stdout).at(-1).name, "extra");
  },
});

test({
  name:
    "consumer killed right after it added columns, then restarted: each event once, the columns once, the new values stored",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("schema_crash");
    const before = Array.from({ length: 300 }, () => goodEvent());
    const after = Array.from(
      { length: 300 },
      (_, i) => goodEvent({ country: "ng", duration_ms: 100_000 + i }),
    );
    await produceRaw(n.topic, [...before, ...after].map((event) => JSON.stringify(event)));
    const crashed = await runScript("consume", consumerArgs(n), {
      env: { LIVECHARTS_TEST_CRASH_AFTER_COLUMNS: "true" },
    });
    assert.equal(crashed.code, 70, crashed.stderr);
    assert.match(crashed.stderr, /failpoint: exiting right after adding columns/);
    const stored = await rowCounts(n.table);
    assert.ok(stored.rows < 600, `stored ${stored.rows} rows before the crash`);
    assert.ok((await columns(n.table)).has("country"), "the crash came after the columns");

    const restarted = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.deepEqual(await rowCounts(n.table), { rows: 600, distinct: 600 });
    const [metadata] = await warehouseFor(n.table).table.getMetadata();
    const names: string[] = (metadata?.schema?.fields ?? []).map((field: { name: string }) =>
      field.name
    );
    assert.equal(names.filter((name) => name === "country").length, 1);
    assert.equal(names.filter((name) => name === "duration_ms").length, 1);
    const durations = await valuesOf(n.table, "duration_ms");
    for (const event of after) {
      assert.equal(Number(durations.get(event.event_id)), event.duration_ms);
    }
    for (const event of before) assert.equal(durations.get(event.event_id), null);
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0);
  },
});

test({
  name:
    "two consumers of one group writing events with new fields: each column once, each event once",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("schema_race");
    const events = Array.from(
      { length: 800 },
      (_, i) => i < 200 ? goodEvent() : goodEvent({ country: "fr", duration_ms: i }),
    );
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)), 4);
    const args = consumerArgs(n, ["--exit-when-idle", "3"]);
    const [first, second] = await Promise.all([
      runScript("consume", args),
      runScript("consume", args),
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    const adders = [first, second].filter((run) => /Added columns to/.test(run.stderr)).length;
    assert.ok(adders >= 1);
    assert.deepEqual(await rowCounts(n.table), { rows: 800, distinct: 800 });
    const [metadata] = await warehouseFor(n.table).table.getMetadata();
    const names: string[] = (metadata?.schema?.fields ?? []).map((field: { name: string }) =>
      field.name
    );
    assert.equal(names.filter((name) => name === "country").length, 1, names.join(","));
    assert.equal(names.filter((name) => name === "duration_ms").length, 1, names.join(","));
    const durations = await valuesOf(n.table, "duration_ms");
    for (const event of events.slice(200)) {
      assert.equal(Number(durations.get(event.event_id)), event.duration_ms);
    }
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0);
  },
});

test({
  name:
    "two consumers (two groups, one table) racing to add the same fields, each killed right after it added them, then restarted: each column once, each event once",
  timeoutMs: 180_000,
  fn: async () => {
    // Two groups on two topics write one table: nothing orders their ALTERs
    // (one group's members would share the partitions, and the work).
    const a = pipelineNames("schema_race_kill");
    const b = { topic: `${a.topic}_b`, group: `${a.group}_b`, table: a.table };
    const eventsOf = () =>
      Array.from(
        { length: 400 },
        (_, i) => i < 100 ? goodEvent() : goodEvent({ country: "fr", duration_ms: i }),
      );
    const events = { a: eventsOf(), b: eventsOf() };
    await Promise.all([
      produceRaw(a.topic, events.a.map((event) => JSON.stringify(event))),
      produceRaw(b.topic, events.b.map((event) => JSON.stringify(event))),
    ]);
    // Each exits at once after the columns it added are in the table (a crash
    // right after its ALTER); one that finds them added by the other goes on.
    const crash = { env: { LIVECHARTS_TEST_CRASH_AFTER_COLUMNS: "true" } };
    const runs = await Promise.all(
      [a, b].map((names) =>
        runScript("consume", consumerArgs(names, ["--exit-when-idle", "3"]), crash)
      ),
    );
    const crashed = runs.filter((run) => run.code === 70);
    assert.ok(crashed.length >= 1, runs.map((run) => run.stderr).join("\n"));
    for (const run of crashed) {
      assert.match(run.stderr, /failpoint: exiting right after adding columns/);
    }
    for (const run of runs) assert.ok(run.code === 0 || run.code === 70, run.stderr);
    // Restarted without the failpoint.
    for (const [i, names] of [a, b].entries()) {
      if (runs[i]!.code !== 70) continue;
      const restarted = await runScript("consume", consumerArgs(names, ["--exit-when-idle", "2"]));
      assert.equal(restarted.code, 0, restarted.stderr);
    }
    assert.deepEqual(await rowCounts(a.table), { rows: 800, distinct: 800 });
    const [metadata] = await warehouseFor(a.table).table.getMetadata();
    const names: string[] = (metadata?.schema?.fields ?? []).map((field: { name: string }) =>
      field.name
    );
    assert.equal(names.filter((name) => name === "country").length, 1, names.join(","));
    assert.equal(names.filter((name) => name === "duration_ms").length, 1, names.join(","));
    const durations = await valuesOf(a.table, "duration_ms");
    for (const event of [...events.a, ...events.b]) {
      assert.equal(durations.get(event.event_id) ?? null, event.duration_ms ?? null);
    }
    assert.equal((await readTopic(`${a.topic}.dlq`)).length, 0);
    assert.equal((await readTopic(`${b.topic}.dlq`)).length, 0);
    console.log(`crashed right after adding the columns: ${crashed.length} of 2`);
  },
});

test({
  name:
    "two destinations adding the same columns at the same moment: each column once, NULLABLE, with its type",
  fn: async () => {
    const n = pipelineNames("schema_same");
    const config = loadBigQueryConfig(["--table", n.table], {});
    const [a, b] = await Promise.all([
      openDestination(config, { api: "insert-all" }),
      openDestination(config, { api: "insert-all" }),
    ]);
    try {
      await a.createTable();
      const wanted = [
        { name: "country", type: "STRING" as const, mode: "NULLABLE" as const, description: "" },
        { name: "duration_ms", type: "INT64" as const, mode: "NULLABLE" as const, description: "" },
        // A field named like an SQL keyword is a column like any other.
        { name: "order", type: "BOOL" as const, mode: "NULLABLE" as const, description: "" },
      ];
      const [seenByA, seenByB] = await Promise.all([a.addColumns(wanted), b.addColumns(wanted)]);
      for (const seen of [seenByA, seenByB, await a.tableColumns()]) {
        assert.deepEqual(
          seen.slice(PLAYS_COLUMNS.length).map(({ name, type, mode }) => `${name} ${type} ${mode}`),
          ["country STRING NULLABLE", "duration_ms INT64 NULLABLE", "order BOOL NULLABLE"],
        );
      }
    } finally {
      a.close();
      b.close();
    }
  },
});

test({
  name:
    "consumer running while a column is added by hand: it takes the hand-made column and its type, adds no other",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("schema_hand");
    // A first new field makes the consumer read the table's columns before the change by hand.
    const before = Array.from({ length: 100 }, () => goodEvent({ country: "fr" }));
    await produceRaw(n.topic, before.map((event) => JSON.stringify(event)));
    const consumer = await startScript("consume", consumerArgs(n));
    const after = Array.from({ length: 100 }, (_, i) => goodEvent({ duration_ms: 1_000 + i }));
    try {
      await waitForStored(n.table, 100);
      // By hand, as an operator would: FLOAT64 where the consumer would infer INT64.
      // (The local BigQuery needs the ALTER for storage and the patch for tables.get.)
      const warehouse = warehouseFor(n.table);
      await query(
        warehouse,
        `ALTER TABLE \`livecharts-local.music.${n.table}\` ADD COLUMN duration_ms FLOAT64`,
      );
      const [metadata] = await warehouse.table.getMetadata();
      await warehouse.table.setMetadata({
        schema: {
          fields: [...metadata.schema.fields, {
            name: "duration_ms",
            type: "FLOAT64",
            mode: "NULLABLE",
          }],
        },
      });
      await produceRaw(n.topic, after.map((event) => JSON.stringify(event)));
      await waitForStored(n.table, 200);
    } finally {
      const stderr = await stopScript(consumer);
      assert.doesNotMatch(stderr, /Added columns to .*duration_ms/);
      assert.match(stderr, /are in .* already: duration_ms FLOAT64/);
    }
    assert.equal((await columns(n.table)).get("duration_ms"), "FLOAT64 NULLABLE");
    assert.deepEqual(await rowCounts(n.table), { rows: 200, distinct: 200 });
    const durations = await valuesOf(n.table, "duration_ms");
    for (const event of after) {
      assert.equal(Number(durations.get(event.event_id)), event.duration_ms);
    }
    for (const event of before) assert.equal(durations.get(event.event_id), null);
    assert.equal((await readTopic(`${n.topic}.dlq`)).length, 0);
  },
});
