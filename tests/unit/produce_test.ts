import assert from "node:assert/strict";
import { decodeEvent, type SongCompleted } from "../../shared/event.ts";
import {
  type EventMessage,
  produceEvents,
  toMessage,
} from "../../shared/produce/produce_events.ts";
import type { Simulator } from "../../shared/produce/simulator.ts";

/** A simulator numbering its events through user_id (0, 1, 2, ...). */
function numbered(): Simulator & { made: () => number } {
  let n = 0;
  const next = () => ({
    event_id: crypto.randomUUID(),
    user_id: n++,
    artist: "tony-allen",
    song_id: 1 + (n % 10),
    song_name: "zombie",
    event_type: "song_completed" as const,
    timestamp: "2026-11-24T19:00:00.000Z",
  });
  return Object.assign(next, { made: () => n });
}

/** A `send` that records delivered messages (decoded user ids), failing when told. */
function recorder(fail: (call: number) => unknown = () => undefined) {
  const delivered: number[] = [];
  const batches: number[] = [];
  let calls = 0;
  const send = (messages: EventMessage[]): Promise<void> => {
    const error = fail(++calls);
    if (error !== undefined) return Promise.reject(error);
    batches.push(messages.length);
    delivered.push(...messages.map((message) => decodeEvent(message.value).user_id));
    return Promise.resolve();
  };
  return { send, delivered, batches, calls: () => calls };
}

const tiny = { initialMs: 1, maxMs: 2 };

Deno.test("toMessage() keys by artist and song and encodes the event", () => {
  const event: SongCompleted = {
    event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a",
    user_id: 1,
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: "2026-11-24T19:00:00.000Z",
  };
  const message = toMessage(event);
  assert.equal(message.key, "tony-allen/3");
  assert.deepEqual(decodeEvent(message.value), event);
});

Deno.test("produceEvents() delivers exactly count events, each once", async () => {
  const next = numbered();
  const { send, delivered, batches } = recorder();
  const stats = await produceEvents({ next, send, count: 1_234, rate: 0, batchSize: 100 });
  assert.deepEqual(stats, { sent: 1_234, errors: 0, unsent: 0 });
  assert.equal(next.made(), 1_234);
  assert.deepEqual(
    [...delivered].sort((a, b) => a - b),
    Array.from({ length: 1_234 }, (_, i) => i),
  );
  assert.ok(batches.every((size) => size <= 100));
  assert.equal(batches.length, 13);
});

Deno.test("produceEvents() uses batches of 4,000 by default", async () => {
  const { send, batches } = recorder();
  await produceEvents({ next: numbered(), send, count: 8_100, rate: 0 });
  assert.deepEqual(batches.sort((a, b) => b - a), [4_000, 4_000, 100]);
});

Deno.test("produceEvents() reports each delivered batch", async () => {
  const seen: number[] = [];
  const { send } = recorder();
  await produceEvents({
    next: numbered(),
    send,
    count: 25,
    rate: 0,
    batchSize: 10,
    onDelivered: (events) => seen.push(...events.map((event) => event.user_id)),
  });
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i));
});

Deno.test("produceEvents() paces events to the rate", async () => {
  const { send, delivered } = recorder();
  const started = performance.now();
  const stats = await produceEvents({ next: numbered(), send, count: 50, rate: 200 });
  const elapsed = performance.now() - started;
  assert.equal(stats.sent, 50);
  assert.equal(delivered.length, 50);
  // The 50th event is due after 250 ms at 200 per second.
  assert.ok(elapsed >= 230, `50 events at 200/s took only ${elapsed} ms`);
  assert.ok(elapsed < 1_500, `50 events at 200/s took ${elapsed} ms`);
});

Deno.test("produceEvents() does not send paced events ahead of time", async () => {
  const times: number[] = [];
  const started = performance.now();
  await produceEvents({
    next: numbered(),
    count: 20,
    rate: 100,
    send: (messages) => {
      for (const _ of messages) times.push(performance.now() - started);
      return Promise.resolve();
    },
  });
  // Event i (from 1) is due at i * 10 ms.
  times.forEach((at, i) => assert.ok(at >= (i + 1) * 10 - 2, `event ${i + 1} sent at ${at} ms`));
});

Deno.test("produceEvents() retries failed sends and delivers the events once", async () => {
  const failure = new Error("broker down");
  const { send, delivered, calls } = recorder((call) => call <= 3 ? failure : undefined);
  const errors: Array<[unknown, number]> = [];
  const stats = await produceEvents({
    next: numbered(),
    send,
    count: 30,
    rate: 0,
    batchSize: 10,
    concurrency: 1,
    backoff: tiny,
    onError: (error, attempt) => errors.push([error, attempt]),
  });
  assert.deepEqual(stats, { sent: 30, errors: 3, unsent: 0 });
  assert.equal(calls(), 6);
  assert.deepEqual([...delivered].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
  assert.deepEqual(errors, [[failure, 1], [failure, 2], [failure, 3]]);
});

Deno.test("produceEvents() throws a non-transient send error", async () => {
  const fatal = new Error("message too large");
  const { send } = recorder(() => fatal);
  await assert.rejects(
    produceEvents({
      next: numbered(),
      send,
      count: 10,
      rate: 0,
      isTransient: () => false,
      backoff: tiny,
    }),
    fatal,
  );
});

Deno.test("produceEvents() stops generating when the signal aborts", async () => {
  const controller = new AbortController();
  const next = numbered();
  const { send, delivered } = recorder();
  setTimeout(() => controller.abort(), 60);
  const started = performance.now();
  const stats = await produceEvents({ next, send, count: 0, rate: 500, signal: controller.signal });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1_000, `took ${elapsed} ms to stop`);
  assert.ok(stats.sent > 0);
  assert.equal(stats.sent, next.made(), "every generated event was delivered");
  assert.equal(delivered.length, stats.sent);
  assert.equal(stats.unsent, 0);
  const made = next.made();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(next.made(), made, "generated events after stopping");
});

Deno.test("produceEvents() lets in-flight sends finish after the signal aborts", async () => {
  const controller = new AbortController();
  const gate = Promise.withResolvers<void>();
  let calls = 0;
  const result = produceEvents({
    next: numbered(),
    count: 0,
    rate: 0,
    batchSize: 5,
    concurrency: 1,
    signal: controller.signal,
    send: () => {
      calls++;
      return gate.promise;
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  gate.resolve();
  assert.deepEqual(await result, { sent: 5, errors: 0, unsent: 0 });
  assert.equal(calls, 1);
});

Deno.test("produceEvents() counts unsent events when the deadline cuts retries", async () => {
  const signal = new AbortController();
  const deadline = new AbortController();
  const { send } = recorder(() => new Error("broker down"));
  const result = produceEvents({
    next: numbered(),
    send,
    count: 0,
    rate: 0,
    batchSize: 7,
    concurrency: 1,
    signal: signal.signal,
    deadline: deadline.signal,
    backoff: tiny,
  });
  await new Promise((resolve) => setTimeout(resolve, 10));
  signal.abort();
  deadline.abort();
  const stats = await result;
  assert.equal(stats.sent, 0);
  assert.equal(stats.unsent, 7);
  assert.ok(stats.errors >= 1);
});

Deno.test("produceEvents() keeps at most concurrency sends in flight", async () => {
  let running = 0;
  let most = 0;
  const stats = await produceEvents({
    next: numbered(),
    count: 100,
    rate: 0,
    batchSize: 10,
    concurrency: 3,
    send: async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      running--;
    },
  });
  assert.equal(stats.sent, 100);
  assert.equal(most, 3);
});

Deno.test("produceEvents() stops waiting on the other sends once one fails for good", async () => {
  const fatal = new Error("message too large");
  let calls = 0;
  const started = performance.now();
  await assert.rejects(
    produceEvents({
      next: numbered(),
      count: 0,
      rate: 0,
      batchSize: 5,
      concurrency: 3,
      isTransient: (error) => error !== fatal,
      backoff: tiny,
      send: (_messages, signal) => {
        if (++calls === 2) return Promise.reject(fatal);
        // The others would wait for a broker that never answers.
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(new Error("abandoned")), { once: true });
        });
      },
    }),
    fatal,
  );
  assert.ok(performance.now() - started < 1_000);
  assert.equal(calls, 3, "the abandoned sends were not retried");
});
