// Integration tests of producer.ts against the real local broker.

import assert from "node:assert/strict";
import { decodeEvent } from "../shared/event.ts";
import { readTopic, runScript, startScript, uniqueName, waitFor } from "./support/harness.ts";

Deno.test("producer sends --count valid events keyed by song and logs deliveries", async () => {
  const topic = uniqueName("produce");
  const log = "producer.log"; // the one file the produce task may write
  {
    const result = await runScript("produce", [
      "--topic",
      topic,
      "--count",
      "250",
      "--rate",
      "0",
      "--partitions",
      "4",
      "--log-file",
      log,
    ], { env: {} });
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

Deno.test("producer --artist and --seed give a reproducible single-artist sequence", async () => {
  const sequences: string[][] = [];
  for (const run of [1, 2]) {
    const topic = uniqueName(`seeded${run}`);
    const result = await runScript("produce", [
      "--topic",
      topic,
      "--count",
      "40",
      "--rate",
      "0",
      "--seed",
      "42",
      "--artist",
      "tony-allen",
      "--partitions",
      "1",
      "--log-file",
      "",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const events = (await readTopic(topic)).map((m) => decodeEvent(m.value));
    assert.ok(events.every((event) => event.artist === "tony-allen"));
    sequences.push(events.map((event) => `${event.song_id}:${event.user_id}`));
  }
  assert.deepEqual(sequences[0], sequences[1]);
});

Deno.test("producer flushes and exits 0 on SIGINT with every reported event in Kafka", async () => {
  const topic = uniqueName("sigint");
  const producer = await startScript("produce", [
    "--topic",
    topic,
    "--rate",
    "400",
    "--log-file",
    "",
  ]);
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

Deno.test("producer rejects bad flags with one clear message", async () => {
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
