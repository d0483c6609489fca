import assert from "node:assert/strict";
import { PLAYED_AT, songCompleted } from "../support/events.ts";
import { deriveEventId } from "../../shared/event.ts";
import { applyMessages, type FeedMessage } from "../../shared/live/feed/play_feed.ts";
import { createPlayCounter } from "../../shared/live/counting/windows.ts";

const encoder = new TextEncoder();
const NOW = PLAYED_AT;

function message(offset: number, value: unknown, readAt = NOW): FeedMessage {
  return {
    offset: String(offset),
    value: encoder.encode(typeof value === "string" ? value : JSON.stringify(value)),
    timestamp: String(readAt),
  };
}

Deno.test("applyMessages() counts valid events and skips invalid ones with their offsets", () => {
  const counter = createPlayCounter({ now: NOW });
  const applied = applyMessages(counter, "plays", 0, [
    message(0, songCompleted()),
    message(1, "not json"),
    message(2, songCompleted({ song_id: "three" })),
    { offset: "3", value: null, timestamp: String(NOW) },
    message(4, songCompleted()),
  ]);
  assert.equal(applied.counted, 2);
  assert.deepEqual(applied.invalid.map((entry) => entry.offset), ["1", "2", "3"]);
  assert.equal(applied.invalid[1]!.error.field, "song_id");
  assert.equal(counter.top("tony-allen", "5m", 10, NOW).total, 2);
});

Deno.test("applyMessages() ignores fields it does not use, whatever their type", () => {
  const counter = createPlayCounter({ now: NOW });
  const applied = applyMessages(counter, "plays", 0, [
    message(0, songCompleted({ country: "ng", duration_ms: 215_000 })),
    message(1, songCompleted({ duration_ms: "3:35", device: { os: "ios" }, extra: null })),
  ]);
  assert.deepEqual([applied.counted, applied.invalid.length], [2, 0]);
  assert.equal(counter.top("tony-allen", "5m", 10, NOW).total, 2);
});

Deno.test("applyMessages() counts a re-sent event once", () => {
  const counter = createPlayCounter({ now: NOW });
  const same = songCompleted();
  const applied = applyMessages(counter, "plays", 1, [message(0, same), message(1, same)]);
  assert.deepEqual([applied.counted, applied.duplicates], [1, 1]);
});

Deno.test("applyMessages() gives tutorial events the consumer's derived id", () => {
  const counter = createPlayCounter({ now: NOW });
  const tutorial = songCompleted({ timestamp: "2022-11-03 07:22:13" });
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
    message(0, songCompleted({ timestamp: old }), NOW - 100_000), // written 20 s after the play
    message(1, songCompleted({ timestamp: old }), NOW), // written 2 min after the play
  ]);
  assert.deepEqual([applied.counted, applied.late], [1, 1]);
  assert.equal(counter.top("tony-allen", "5m", 10, NOW).total, 1);
  assert.equal(counter.top("tony-allen", "all", 10, NOW).total, 2);
});

Deno.test("applyMessages() reports the earliest event time it read", () => {
  const counter = createPlayCounter({ now: NOW });
  const applied = applyMessages(counter, "plays", 0, [
    message(0, songCompleted({ timestamp: new Date(NOW - 5_000).toISOString() })),
    message(1, songCompleted({ timestamp: new Date(NOW - 9_000).toISOString() })),
    message(2, "not json"),
  ]);
  assert.equal(applied.minEventAt, NOW - 9_000);
});

Deno.test("applyMessages() leaves out events further ahead of the clock than the skew", () => {
  const counter = createPlayCounter({ now: NOW });
  const applied = applyMessages(counter, "plays", 0, [
    message(0, songCompleted({}, NOW + 60_000)),
    message(1, songCompleted({}, NOW + 600_000)),
  ], { now: NOW, maxFutureMs: 300_000 });
  assert.equal(applied.counted, 1);
  assert.deepEqual(applied.invalid.map(({ offset }) => offset), ["1"]);
  assert.equal(applied.invalid[0]?.error.field, "timestamp");
  // The same rule with a wider skew counts it.
  const lenient = applyMessages(createPlayCounter({ now: NOW }), "plays", 0, [
    message(1, songCompleted({}, NOW + 600_000)),
  ], { now: NOW, maxFutureMs: 3_600_000 });
  assert.equal(lenient.counted, 1);
});
