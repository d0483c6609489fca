// Integration tests of consumer.ts against the real local broker and the
// BigQuery emulator. Each test uses its own topic, group and table.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { deriveEventId } from "../../shared/event.ts";
import { createAdmin, createKafka, installKafkaPatches } from "../../shared/kafka/mod.ts";
import { parseMarker } from "../../shared/sink/commit_marker.ts";
import { DECODER_VERSION } from "../../shared/sink/sink.ts";
import {
  committedOffsets,
  consumerArgs,
  endOffsets,
  goodEvent,
  pipelineNames,
  producerArgs,
  produceRaw,
  readTopic,
  runScript,
  startScript,
  tableRows,
  waitFor,
} from "../support/harness.ts";

installKafkaPatches(); // the scripts' Kafka, in this process too

async function assertCommittedToEnd(group: string, topic: string): Promise<void> {
  const [committed, ends] = await Promise.all([committedOffsets(group, topic), endOffsets(topic)]);
  for (const [partition, end] of ends) {
    if (end === 0n) continue;
    assert.equal(committed.get(partition), end, `partition ${partition} committed to its end`);
  }
}

test("consumer stores every produced event exactly once and commits to the end", async () => {
  const n = pipelineNames("plays");
  const produced = await runScript(
    "produce",
    producerArgs(n.topic, { count: 600, rate: 0, seed: 7 }),
  );
  assert.equal(produced.code, 0, produced.stderr);

  const consumed = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);

  const sent = await readTopic(n.topic);
  assert.equal(sent.length, 600);
  const sentIds = new Set(sent.map((m) => JSON.parse(new TextDecoder().decode(m.value!)).event_id));
  const rows = await tableRows(n.table);
  assert.equal(rows.length, 600, "one row per message");
  assert.deepEqual(new Set(rows.map((row) => row.event_id)), sentIds);
  await assertCommittedToEnd(n.group, n.topic);
});

test("consumer stores tutorial-format events with deterministic ids", async () => {
  const n = pipelineNames("plays");
  const tutorial = Array.from({ length: 9 }, (_, i) => ({
    user_id: 100 + i,
    artist: "tony-allen",
    song_id: i + 1,
    song_name: `song-${i + 1}`,
    event_type: "song_completed",
    timestamp: `2022-11-03 07:22:1${i}`,
  }));
  await produceRaw(n.topic, tutorial.map((event) => JSON.stringify(event)));
  const consumed = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);

  const rows = await tableRows(n.table);
  assert.equal(rows.length, 9);
  for (const row of rows) {
    const expected = deriveEventId({
      topic: n.topic,
      partition: Number(row.kafka_partition),
      offset: String(row.kafka_offset),
    });
    assert.equal(row.event_id, expected);
    const source = tutorial.find((event) => event.user_id === Number(row.user_id))!;
    assert.equal(row.timestamp, `${source.timestamp.replace(" ", "T")}.000Z`);
    assert.equal(row.song_name, source.song_name);
  }
});

test("consumer sends poison messages to the DLQ with headers and stores the good ones", async () => {
  const n = pipelineNames("plays");
  const good = Array.from({ length: 20 }, () => goodEvent());
  const poison: Array<{ value: string; kind: string; field?: string }> = [
    { value: "{not json", kind: "invalid-json" },
    { value: "[1,2,3]", kind: "invalid-json" },
    { value: JSON.stringify(goodEvent({ song_id: "x" })), kind: "invalid-event", field: "song_id" },
    {
      value: JSON.stringify(goodEvent({ user_id: undefined })),
      kind: "invalid-event",
      field: "user_id",
    },
    {
      value: JSON.stringify(goodEvent({ timestamp: "yesterday" })),
      kind: "invalid-event",
      field: "timestamp",
    },
    {
      value: JSON.stringify(goodEvent({ event_type: "song_skipped" })),
      kind: "invalid-event",
      field: "event_type",
    },
  ];
  const values = [...good.map((event) => JSON.stringify(event))];
  poison.forEach((p, i) => values.splice(3 * i + 1, 0, p.value));
  await produceRaw(n.topic, values);

  const consumed = await runScript(
    "consume",
    consumerArgs(n, ["--exit-when-idle", "2", "--dlq-topic", `${n.topic}.dlq`]),
  );
  assert.equal(consumed.code, 0, consumed.stderr);

  const rows = await tableRows(n.table);
  assert.deepEqual(new Set(rows.map((row) => row.event_id)), new Set(good.map((e) => e.event_id)));

  const source = await readTopic(n.topic);
  const dlq = await readTopic(`${n.topic}.dlq`);
  assert.equal(dlq.length, poison.length);
  const decoder = new TextDecoder();
  for (const p of poison) {
    const letter = dlq.find((m) => decoder.decode(m.value!) === p.value);
    assert.ok(letter, `dead letter for ${p.value}`);
    assert.equal(letter.headers["error.kind"], p.kind);
    assert.match(letter.headers.error ?? "", /^Cannot parse event: /);
    if (p.field) assert.equal(letter.headers["error.field"], p.field);
    assert.equal(letter.headers["source.topic"], n.topic);
    const original = source.find((m) =>
      m.partition === Number(letter.headers["source.partition"]) &&
      m.offset === letter.headers["source.offset"]
    );
    assert.ok(original, "source coordinates point at the original message");
    assert.equal(decoder.decode(original.value!), p.value);
  }
  await assertCommittedToEnd(n.group, n.topic);
});

test("consumer resumes from committed offsets after a restart without loss or re-reads", async () => {
  const n = pipelineNames("plays");
  const first = Array.from({ length: 120 }, () => goodEvent());
  await produceRaw(n.topic, first.map((e) => JSON.stringify(e)));
  const run1 = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(run1.code, 0, run1.stderr);
  assert.match(run1.stderr, /Stopped: 120 consumed, 120 inserted/);

  const second = Array.from({ length: 80 }, () => goodEvent());
  await produceRaw(n.topic, second.map((e) => JSON.stringify(e)));
  const run2 = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(run2.code, 0, run2.stderr);
  assert.match(run2.stderr, /Stopped: 80 consumed, 80 inserted/);

  const rows = await tableRows(n.table);
  assert.equal(rows.length, 200, "nothing stored twice");
  assert.deepEqual(
    new Set(rows.map((row) => row.event_id)),
    new Set([...first, ...second].map((e) => e.event_id)),
  );
  await assertCommittedToEnd(n.group, n.topic);
});

test("consumer flushes the batch in flight and commits on SIGTERM", async () => {
  const n = pipelineNames("plays");
  const events = Array.from({ length: 150 }, () => goodEvent());
  await produceRaw(n.topic, events.map((e) => JSON.stringify(e)));
  // Batches would wait a minute on their own: only the shutdown flushes them.
  const consumer = await startScript(
    "consume",
    consumerArgs(n, ["--batch-wait-ms", "60000", "--batch-rows", "50000"]),
    { LIVECHARTS_PROGRESS_MS: "200" },
  );
  try {
    await waitFor(
      "all 150 read",
      () => /consumed 150 \| inserted 0 /.test(consumer.stderr()),
      60_000,
    );
    assert.equal((await tableRows(n.table)).length, 0, "nothing flushed before the signal");

    const signalled = Date.now();
    consumer.kill("SIGTERM");
    const result = await consumer.done;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - signalled < 10_000, "exits within 10 s");
    const rows = await tableRows(n.table);
    assert.deepEqual(
      new Set(rows.map((row) => row.event_id)),
      new Set(events.map((e) => e.event_id)),
    );
    await assertCommittedToEnd(n.group, n.topic);
  } finally {
    consumer.kill("SIGKILL");
    await consumer.done;
  }
});

test("consumer rejects invalid configuration with one clear message", async () => {
  const result = await runScript("consume", ["--brokers", "localhost"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Invalid --brokers \(KAFKA_BROKERS\): must be host:port pairs/);
  const negative = await runScript("consume", ["--batch-rows", "-5"]);
  assert.equal(negative.code, 2);
  assert.match(negative.stderr, /Invalid --batch-rows \(BATCH_MAX_ROWS\)/);
  const help = await runScript("consume", ["--help"]);
  assert.equal(help.code, 0);
  for (
    const name of [
      "KAFKA_BROKERS",
      "KAFKA_DLQ_TOPIC",
      "BIGQUERY_EMULATOR_HOST",
      "BIGQUERY_STORAGE_EMULATOR_HOST",
      "WRITE_API",
      "BIGQUERY_CREATE_TABLE",
      "--exit-when-idle",
    ]
  ) {
    assert.ok(help.stdout.includes(name), `help mentions ${name}`);
  }
});

test("consumer stores event text exactly as sent, placeholders and markup included", async () => {
  const n = pipelineNames("plays");
  const names_ = ["{{projectId}}", "<img src=x onerror=alert(1)>", "naïve — “quoted” 🎵", 'a\\b"c'];
  const events = names_.map((song_name, i) => goodEvent({ song_name, song_id: 20 + i }));
  await produceRaw(n.topic, events.map((e) => JSON.stringify(e)));
  const consumed = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);
  const rows = await tableRows(n.table);
  assert.deepEqual(
    rows.map((row) => row.song_name).sort(),
    [...names_].sort(),
  );
});

test("consumer commits each stored stretch with the write stream and its next row", async () => {
  const n = pipelineNames("plays");
  const events = Array.from({ length: 90 }, () => goodEvent());
  await produceRaw(n.topic, events.map((e) => JSON.stringify(e)));
  const consumed = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);
  const admin = createAdmin(createKafka({ brokers: ["127.0.0.1:9092"], clientId: "tests" }));
  try {
    const committed = await admin.committed(n.group, n.topic);
    assert.equal(committed.size, 3);
    for (const { offset, metadata } of committed.values()) {
      const marker = parseMarker(metadata);
      assert.ok(marker, `a marker in ${metadata}`);
      assert.match(marker.stream, new RegExp(`/tables/${n.table}/streams/`));
      // Each partition's rows went to one stream, all of them: its next row is the offset.
      assert.equal(BigInt(marker.row), offset);
      // A clean stop finalized the stream and recorded it, with the decoder's version.
      assert.equal(marker.finalized, true);
      assert.equal(marker.version, DECODER_VERSION);
    }
  } finally {
    await admin.close();
  }
  assert.equal((await tableRows(n.table)).length, 90);
});

test("consumer --write-api insert-all stores every event and commits without markers", async () => {
  const n = pipelineNames("plays");
  const events = Array.from({ length: 60 }, () => goodEvent());
  await produceRaw(n.topic, events.map((e) => JSON.stringify(e)));
  const consumed = await runScript(
    "consume",
    consumerArgs(n, ["--exit-when-idle", "2", "--write-api", "insert-all"]),
  );
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.match(consumed.stderr, /at least once via insert-all/);
  assert.deepEqual(
    new Set((await tableRows(n.table)).map((row) => row.event_id)),
    new Set(events.map((e) => e.event_id)),
  );
  await assertCommittedToEnd(n.group, n.topic);
});
