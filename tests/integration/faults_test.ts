// Fault tests: the pipeline under the failures real clusters have. Each test
// produces a known set of events and ends by asserting that BigQuery holds
// exactly that set of distinct event ids: nothing lost, nothing extra.
//
// Two tests stop and start the shared local services (`infra/services.sh`),
// so this file must not run alongside other integration tests.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import {
  assertDashboardAgrees,
  assertExactly,
  faultNames,
  startLoad,
  stopConsumer,
  waitForRows,
} from "../support/faults.ts";
import { PLAYS_COLUMNS, playsTableMetadata } from "../../shared/schema.ts";
import {
  committedOffsets,
  consumerArgs,
  goodEvent,
  produceRaw,
  query,
  readTopic,
  startScript,
  storedEventIds,
  topicEventIds,
  waitFor,
  waitForStored,
  warehouseFor,
} from "../support/harness.ts";
import { createKafka } from "../../shared/kafka/mod.ts";
import { groupNow } from "../support/group_generation.ts";

test("faults: a consumer killed with SIGKILL mid-batch loses nothing after a restart", {
  timeoutMs: 240_000,
}, async () => {
  const n = faultNames();
  const events = Array.from({ length: 4_000 }, () => goodEvent());
  await produceRaw(n.topic, events.map((e) => JSON.stringify(e)));
  const first = await startScript("consume", consumerArgs(n, ["--batch-rows", "100"]));
  try {
    await waitFor(
      "some rows to land",
      async () => {
        const stored = await storedEventIds(n.table).catch(() => new Set<string>());
        return stored.size > 0;
      },
      60_000,
      50,
    );
  } finally {
    first.kill("SIGKILL");
    await first.done;
  }
  const partial = (await storedEventIds(n.table)).size;
  assert.ok(partial < events.length, `killed mid-stream (${partial} stored)`);

  const second = await startScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  const result = await second.done;
  assert.equal(result.code, 0, result.stderr);
  await assertExactly(n.table, new Set(events.map((e) => e.event_id)));
  await assertDashboardAgrees(n);
});

test("faults: poison input (10%) goes to the DLQ with a reason and every good event lands", {
  timeoutMs: 150_000,
}, async () => {
  const n = faultNames();
  const good = Array.from({ length: 450 }, () => goodEvent());
  const poisonKinds = [
    () => '{"event_id": ', // truncated JSON
    () => JSON.stringify(goodEvent({ user_id: "forty-two" })), // wrong type
    () => JSON.stringify(goodEvent({ song_id: 2.5 })), // wrong type
    () => JSON.stringify(goodEvent({ artist: undefined })), // missing field
    () => JSON.stringify(goodEvent({ song_name: "x".repeat(600_000) })), // oversized
  ];
  const poison = Array.from({ length: 50 }, (_, i) => poisonKinds[i % poisonKinds.length]!());
  const values = good.map((e) => JSON.stringify(e));
  poison.forEach((p, i) => values.splice(i * 10 + 5, 0, p));
  await produceRaw(n.topic, values);

  const consumer = await startScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  const result = await consumer.done;
  assert.equal(result.code, 0, result.stderr);
  await assertExactly(n.table, new Set(good.map((e) => e.event_id)));
  await assertDashboardAgrees(n);

  const dlq = await readTopic(`${n.topic}.dlq`);
  assert.equal(dlq.length, poison.length);
  const decoder = new TextDecoder();
  const letters = dlq.map((m) => decoder.decode(m.value!)).sort();
  assert.deepEqual(letters, [...poison].sort(), "original bytes, unchanged");
  for (const letter of dlq) {
    assert.match(letter.headers.error ?? "", /^Cannot parse event: /);
    assert.ok(["invalid-json", "invalid-event"].includes(letter.headers["error.kind"] ?? ""));
  }
  const oversized = dlq.find((m) => (m.value?.length ?? 0) > 500_000);
  assert.match(oversized?.headers.error ?? "", /'song_name' must be at most 1024 characters/);
});

test("faults: rows BigQuery rejects go to the DLQ with BigQuery's reason", async () => {
  const n = faultNames();
  // Schema drift: the table's `artist` column is INT64. Events whose artist
  // slug is a number (`1970`) fit it; BigQuery refuses the others row by row.
  // The refused rows end in the DLQ with BigQuery's reason, the others are
  // stored, nothing blocks. (A table refusing every row is a destination
  // problem, not a row problem: see destination_faults_test.ts.)
  const warehouse = warehouseFor(n.table);
  const fields = PLAYS_COLUMNS.map((column) =>
    column.name === "artist" ? { ...column, type: "INT64" } : { ...column }
  );
  await warehouse.client.dataset("music").table(n.table).create({
    ...playsTableMetadata(),
    schema: { fields },
  });
  const fitting = Array.from({ length: 12 }, (_, i) => goodEvent({ artist: String(1960 + i) }));
  const refused = Array.from({ length: 12 }, () => goodEvent());
  const values = fitting.flatMap((event, i) => [event, refused[i]!]).map((e) => JSON.stringify(e));
  await produceRaw(n.topic, values);

  const consumer = await startScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  const result = await consumer.done;
  assert.equal(result.code, 0, result.stderr);
  const dlq = await readTopic(`${n.topic}.dlq`);
  assert.equal(dlq.length, refused.length, result.stderr);
  const decoder = new TextDecoder();
  const lettered = new Set(dlq.map((letter) => JSON.parse(decoder.decode(letter.value!)).event_id));
  assert.deepEqual(lettered, new Set(refused.map((e) => e.event_id)));
  for (const letter of dlq) {
    assert.equal(letter.headers["error.kind"], "rejected-by-bigquery");
    // BigQuery's own words (the local one names the value it cannot convert).
    assert.match(letter.headers.error ?? "", /^Cannot store event: \S/);
  }
  await assertExactly(n.table, new Set(fitting.map((e) => e.event_id)));
});

test("faults: SIGTERM during load writes what was read, commits it, and exits 0 within 10 s", {
  timeoutMs: 150_000,
}, async () => {
  const n = faultNames();
  const consumer = await startScript("consume", consumerArgs(n));
  const producer = await startScript("produce", [
    "--topic",
    n.topic,
    "--rate",
    "400",
    "--log-file",
    "",
  ]);
  try {
    await waitForRows(n.table, 200);
    const signalled = Date.now();
    const stderr = await stopConsumer(consumer);
    assert.ok(Date.now() - signalled < 10_000, "exits within 10 s");
    assert.match(stderr, /Stopped: \d+ consumed/);
  } finally {
    producer.kill("SIGTERM");
    await producer.done;
    consumer.kill("SIGKILL");
  }
  // Everything below the committed offsets is stored.
  const committed = await committedOffsets(n.group, n.topic);
  const decoder = new TextDecoder();
  const below = (await readTopic(n.topic)).filter((m) =>
    BigInt(m.offset) < (committed.get(m.partition) ?? 0n)
  );
  assert.ok(below.length > 0);
  const stored = await storedEventIds(n.table);
  for (const message of below) {
    assert.ok(
      stored.has(JSON.parse(decoder.decode(message.value!)).event_id),
      "committed means stored",
    );
  }
  // And a restart finishes the rest.
  const rest = await startScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal((await rest.done).code, 0);
  await assertExactly(n.table, await topicEventIds(n.topic));
  await assertDashboardAgrees(n);
});

/** Waits until `group` is Stable with `members` members; returns its generation then. */
async function stableWith(group: string, members: number): Promise<number> {
  let last = { state: "", members: 0, generation: -1 };
  await waitFor(
    `group ${group} Stable with ${members} member(s)`,
    async () => {
      last = await groupNow(
        createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" }),
        group,
      );
      return last.state === "Stable" && last.members === members;
    },
    60_000,
    250,
  ).catch((error) => {
    throw new Error(`${error.message} (last: ${JSON.stringify(last)})`);
  });
  return last.generation;
}

test(
  "faults: a second consumer joining and leaving during load loses nothing",
  { timeoutMs: 150_000 },
  async () => {
    const n = faultNames();
    const a = await startScript("consume", consumerArgs(n));
    const producer = await startLoad(n.topic, 200, 6000, ["--partitions", "6"]);
    let b;
    try {
      await waitForRows(n.table, 100);
      const alone = await stableWith(n.group, 1);
      b = await startScript("consume", consumerArgs(n));
      // A real rebalance: the group completes a new generation with both.
      const together = await stableWith(n.group, 2);
      assert.ok(together > alone, `generation ${alone} → ${together} when b joined`);
      const storedThen = (await storedEventIds(n.table)).size;
      // Both consume for a while (the load lasts 30 s; a slow join leaves less).
      await waitForRows(n.table, Math.min(storedThen + 300, 5_800));
      const bStderr = await stopConsumer(b);
      const bConsumed = Number(/Stopped: (\d+) consumed/.exec(bStderr)?.[1]);
      assert.ok(bConsumed > 0, `b consumed its share (${bConsumed})`);
      // And another when b leaves: a takes every partition back.
      const againAlone = await stableWith(n.group, 1);
      assert.ok(againAlone > together, `generation ${together} → ${againAlone} when b left`);
      const produced = await producer.done;
      assert.equal(produced.code, 0, produced.stderr);
      const expected = await topicEventIds(n.topic);
      assert.equal(expected.size, 6_000);
      await waitForStored(n.table, expected.size);
      await stopConsumer(a);
      await assertExactly(n.table, expected);
      await assertDashboardAgrees(n);
      // What a chart query counts: every play once.
      const [row] = await query(
        warehouseFor(n.table),
        `SELECT COUNT(DISTINCT event_id) AS plays FROM \`livecharts-local.music.${n.table}\``,
      );
      assert.equal(Number(row?.plays), 6_000);
    } finally {
      a.kill("SIGKILL");
      b?.kill("SIGKILL");
      producer.kill("SIGKILL");
    }
  },
);
