import assert from "node:assert/strict";
import { deriveEventId } from "../../shared/event.ts";
import { createKafka, installKafkaPatches } from "../../shared/kafka/mod.ts";
import { applyMessages, type FeedMessage, startPlayFeed } from "../../shared/live/play_feed.ts";
import { createPlayCounter } from "../../shared/live/windows.ts";
import { produceRaw, uniqueName, waitFor } from "../support/harness.ts";

installKafkaPatches(); // the scripts' Kafka, in this process too

const encoder = new TextEncoder();
const NOW = Date.UTC(2026, 10, 24, 12);

function message(offset: number, value: unknown, readAt = NOW): FeedMessage {
  return {
    offset: String(offset),
    value: encoder.encode(typeof value === "string" ? value : JSON.stringify(value)),
    timestamp: String(readAt),
  };
}

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    user_id: 7,
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: new Date(NOW - 1_000).toISOString(),
    ...overrides,
  };
}

Deno.test("applyMessages() counts valid events and skips invalid ones with their offsets", () => {
  const counter = createPlayCounter({ now: NOW });
  const applied = applyMessages(counter, "plays", 0, [
    message(0, event()),
    message(1, "not json"),
    message(2, event({ song_id: "three" })),
    { offset: "3", value: null, timestamp: String(NOW) },
    message(4, event()),
  ]);
  assert.equal(applied.counted, 2);
  assert.deepEqual(applied.invalid.map((entry) => entry.offset), ["1", "2", "3"]);
  assert.equal(applied.invalid[1]!.error.field, "song_id");
  assert.equal(counter.top("tony-allen", "5m", 10, NOW).total, 2);
});

Deno.test("applyMessages() counts a re-sent event once", () => {
  const counter = createPlayCounter({ now: NOW });
  const same = event();
  const applied = applyMessages(counter, "plays", 1, [message(0, same), message(1, same)]);
  assert.deepEqual([applied.counted, applied.duplicates], [1, 1]);
});

Deno.test("applyMessages() gives tutorial events the consumer's derived id", () => {
  const counter = createPlayCounter({ now: NOW });
  const tutorial = event({ timestamp: "2022-11-03 07:22:13" });
  delete tutorial.event_id;
  // The same message read twice (a replay) is one play; another offset is another play.
  applyMessages(counter, "plays", 2, [message(5, tutorial)]);
  applyMessages(counter, "plays", 2, [message(5, tutorial), message(6, tutorial)]);
  assert.equal(counter.top("tony-allen", "all", 10, NOW).total, 2);
  assert.equal(counter.stats.duplicates, 1);
  assert.match(deriveEventId({ topic: "plays", partition: 2, offset: "5" }), /^[0-9a-f-]{36}$/);
});

Deno.test("applyMessages() measures lateness against the Kafka record time", () => {
  const counter = createPlayCounter({ now: NOW, allowedLatenessMs: 60_000 });
  const old = new Date(NOW - 120_000).toISOString();
  const applied = applyMessages(counter, "plays", 0, [
    message(0, event({ timestamp: old }), NOW - 100_000), // written 20 s after the play
    message(1, event({ timestamp: old }), NOW), // written 2 min after the play
  ]);
  assert.deepEqual([applied.counted, applied.late], [1, 1]);
  assert.equal(counter.top("tony-allen", "5m", 10, NOW).total, 1);
  assert.equal(counter.top("tony-allen", "all", 10, NOW).total, 2);
});

Deno.test("applyMessages() reports the earliest event time it read", () => {
  const counter = createPlayCounter({ now: NOW });
  const applied = applyMessages(counter, "plays", 0, [
    message(0, event({ timestamp: new Date(NOW - 5_000).toISOString() })),
    message(1, event({ timestamp: new Date(NOW - 9_000).toISOString() })),
    message(2, "not json"),
  ]);
  assert.equal(applied.minEventAt, NOW - 9_000);
});

Deno.test("startPlayFeed() reads each partition from its anchor and knows when it caught up", async () => {
  const topic = uniqueName("feed");
  const values = Array.from(
    { length: 12 },
    (_, i) =>
      JSON.stringify(
        event({ song_id: 1 + (i % 2), timestamp: new Date(Date.now() - i * 1_000).toISOString() }),
      ),
  );
  await produceRaw(topic, values, 2); // offsets 0..5 in each partition
  const counter = createPlayCounter();
  const feed = await startPlayFeed(
    createKafka({ brokers: ["127.0.0.1:9092"], clientId: "tests" }),
    {
      topic,
      counter,
      anchors: [
        { partition: 0, below: 4n, start: 4n, end: 6n },
        { partition: 1, below: 0n, start: 0n, end: 6n },
      ],
    },
  );
  try {
    await waitFor("caught up", () => feed.stats.caughtUp, 30_000);
    assert.equal(feed.stats.read, 2 + 6, "partition 0 from offset 4, partition 1 from 0");
    assert.deepEqual([feed.position(0), feed.position(1)], [6n, 6n]);
    assert.equal(counter.top("tony-allen", "all", 10, Date.now()).total, 8);
    assert.equal(feed.stats.contiguous, true);
    assert.ok(
      feed.stats.minEventAt !== undefined && feed.stats.minEventAt <= Date.now() - 11_000 + 1_000,
    );
    assert.equal(feed.problem, undefined);

    // Live: a new message arrives within the reader's wait.
    await produceRaw(topic, [JSON.stringify(event())], 2);
    await waitFor("the new message", () => feed.stats.read === 9, 10_000, 20);
  } finally {
    await feed.stop();
  }
});
