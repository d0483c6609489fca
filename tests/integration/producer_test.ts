// Integration tests of producer.ts against the real local broker.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { decodeEvent } from "../../shared/event.ts";
import { createAdmin, createKafka, ensureTopic } from "../../shared/kafka/mod.ts";
import {
  producerArgs,
  readTopic,
  runScript,
  startProducer,
  uniqueName,
  waitFor,
} from "../support/harness.ts";

test("producer sends --count valid events keyed by song and logs deliveries", async () => {
  const topic = uniqueName("produce");
  const log = "producer.log"; // the one file the produce task may write
  {
    const result = await runScript(
      "produce",
      producerArgs(topic, { count: 250, rate: 0, partitions: 4, logFile: log }),
      { env: {} },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Stopped: 250 events delivered/);

    const messages = await readTopic(topic);
    assert.equal(messages.length, 250);
    assert.equal(new Set(messages.map((m) => m.partition)).size, 4, "spread over the 4 partitions");
    const ids = new Set<string>();
    const partitionOf = new Map<string, number>();
    for (const message of messages) {
      const event = decodeEvent(message.value);
      ids.add(event.event_id);
      // Keyed by song: one song always lands on the same partition.
      const song = `${event.artist}/${event.song_id}`;
      assert.equal(partitionOf.get(song) ?? message.partition, message.partition);
      partitionOf.set(song, message.partition);
      assert.ok(Math.abs(Date.parse(event.timestamp) - Date.now()) < 120_000, "current event time");
    }
    assert.equal(ids.size, 250, "event ids are unique");

    const delivered = (await Deno.readTextFile(log)).split("\n")
      .map((line) => new RegExp(`Delivered (\\d+) events to ${topic}\\b`).exec(line)?.[1])
      .filter((count) => count !== undefined)
      .reduce((sum, count) => sum + Number(count), 0);
    assert.equal(delivered, 250, "every delivery is in the log");
  }
});

test("producer --artist and --seed give a reproducible single-artist sequence", async () => {
  const sequences: string[][] = [];
  for (const run of [1, 2]) {
    const topic = uniqueName(`seeded${run}`);
    const result = await runScript(
      "produce",
      producerArgs(topic, { count: 40, rate: 0, seed: 42, artist: "tony-allen", partitions: 1 }),
    );
    assert.equal(result.code, 0, result.stderr);
    const events = (await readTopic(topic)).map((m) => decodeEvent(m.value));
    assert.ok(events.every((event) => event.artist === "tony-allen"));
    sequences.push(events.map((event) => `${event.song_id}:${event.user_id}`));
  }
  assert.deepEqual(sequences[0], sequences[1]);
});

test("producer flushes and exits 0 on SIGINT with every reported event in Kafka", async () => {
  const topic = uniqueName("sigint");
  const producer = await startProducer(topic, { rate: 400 });
  try {
    await waitFor("the producer to start", () => /Producing to/.test(producer.stderr()), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    producer.kill("SIGINT");
    const result = await producer.done;
    assert.equal(result.code, 0, result.stderr);
    const reported = Number(/Stopped: (\d+) events delivered/.exec(result.stderr)?.[1]);
    assert.ok(reported > 0, result.stderr);
    assert.equal((await readTopic(topic)).length, reported);
  } finally {
    producer.kill("SIGKILL");
    await producer.done;
  }
});

test("producer rejects bad flags with one clear message", async () => {
  const rate = await runScript("produce", ["--rate", "-1"]);
  assert.equal(rate.code, 2);
  assert.match(rate.stderr, /Invalid --rate: must be at least 0, got -1/);
  const artist = await runScript("produce", ["--artist", "nobody-at-all", "--log-file", ""]);
  assert.equal(artist.code, 2);
  assert.match(artist.stderr, /Unknown artist "nobody-at-all"/);
  const flag = await runScript("produce", ["--colour", "red"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown flag --colour/);
  const help = await runScript("produce", ["--help"]);
  assert.equal(help.code, 0);
  for (const name of ["--count", "--rate", "--artist", "--seed", "--topic", "KAFKA_BROKERS"]) {
    assert.ok(help.stdout.includes(name), `help mentions ${name}`);
  }
});

/** The lines of `stderr` at level FATAL or ERROR (the Kafka client's included). */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /^\S+ (FATAL|ERROR) +livecharts\./.test(line));
}

test("producer stops with one clear line and exit 1 when Kafka refuses its events for good", async () => {
  // The broker refuses every batch: the topic takes records of 200 bytes at most.
  const topic = uniqueName("too_large");
  await ensureTopic(
    createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" }),
    topic,
    1,
    {
      "max.message.bytes": "200",
    },
  );
  const started = Date.now();
  const result = await runScript("produce", producerArgs(topic, { count: 50, rate: 0 }), {
    timeoutMs: 30_000,
  });
  assert.equal(result.code, 1, result.stderr);
  assert.ok(Date.now() - started < 15_000, `stopped after ${Date.now() - started} ms`);
  const lines = errorLines(result.stderr);
  assert.equal(lines.length, 1, result.stderr);
  assert.match(
    lines[0]!,
    new RegExp(`Kafka refuses events for ${topic} \\(MESSAGE_TOO_LARGE\\): .*; not retried`),
  );
  assert.doesNotMatch(result.stderr, /retrying/, "not retried");
  assert.equal((await readTopic(topic)).length, 0);
});

test("producer stops within seconds with one clear line when its topic is deleted", async () => {
  const topic = uniqueName("deleted");
  const producer = await startProducer(topic, { rate: 100 });
  try {
    await waitFor("the producer to deliver", () => /sent [1-9]/.test(producer.stderr()), 60_000);
    const admin = createAdmin(
      createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" }),
    );
    try {
      await admin.deleteTopics([topic]);
    } finally {
      await admin.close();
    }
    const deleted = Date.now();
    const result = await producer.done;
    assert.ok(
      Date.now() - deleted < 15_000,
      `stopped ${Date.now() - deleted} ms after the deletion`,
    );
    assert.equal(result.code, 1, result.stderr);
    const lines = errorLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `Kafka refuses events for ${topic} \\(UNKNOWN_TOPIC_OR_PARTITION\\): .*does not exist`,
      ),
    );
  } finally {
    producer.kill("SIGKILL");
    await producer.done;
  }
});

test("producer --catalog-artists, --seed and --spread: the same plays of a large catalog, over the past day", async () => {
  const runs: string[][] = [];
  for (const run of [1, 2]) {
    const topic = uniqueName(`catalog${run}`);
    const before = Date.now();
    const result = await runScript("produce", [
      ...producerArgs(topic, { count: 3_000, rate: 0, seed: 9, partitions: 1 }),
      "--catalog-artists",
      "50000",
      "--catalog-songs-per-artist",
      "40",
      "--spread",
      "24h",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const events = (await readTopic(topic)).map((message) => decodeEvent(message.value));
    assert.equal(events.length, 3_000);
    for (const event of events) {
      const age = Date.now() - Date.parse(event.timestamp);
      assert.ok(age >= 0 && age < 86_400_000 + (Date.now() - before), `age ${age}`);
      assert.ok(event.song_id >= 1 && event.song_id <= 40);
    }
    // Tony Allen heads it; the tail is long.
    const artists = new Map<string, number>();
    for (const event of events) artists.set(event.artist, (artists.get(event.artist) ?? 0) + 1);
    const top = [...artists].sort((a, b) => b[1] - a[1])[0]!;
    assert.equal(top[0], "tony-allen");
    assert.ok(artists.size > 1_000, `artists played: ${artists.size}`);
    runs.push(events.map((event) => `${event.artist}/${event.song_id}/${event.song_name}`));
  }
  assert.deepEqual(runs[1], runs[0]);
});
