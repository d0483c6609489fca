import assert from "node:assert/strict";
import type { InsertRow, RejectedRow } from "../shared/bigquery/warehouse.ts";
import type { OutgoingMessage, SourceMessage } from "../shared/dlq/dead_letter.ts";
import { deriveEventId, EventError } from "../shared/event.ts";
import { createSink, failureOf, type SinkOptions } from "../shared/sink/sink.ts";

const TOPIC = "tony-allen-plays";
const INGESTED = new Date("2026-11-24T19:30:00.000Z");

function event(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `00000000-0000-4000-8000-${String(id).padStart(12, "0")}`,
    user_id: 1_000 + id,
    artist: "tony-allen",
    song_id: 1 + (id % 10),
    song_name: "zombie",
    event_type: "song_completed",
    timestamp: "2026-11-24T19:22:13.000Z",
    ...extra,
  };
}

function message(offset: number, value: unknown, headers?: Record<string, unknown>): SourceMessage {
  const bytes = value instanceof Uint8Array
    ? value
    : value === null
    ? null
    : new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
  return {
    key: new TextEncoder().encode(`key-${offset}`),
    value: bytes,
    offset: String(offset),
    timestamp: "1764012133000",
    ...(headers === undefined ? {} : { headers }),
  };
}

class Transient extends Error {}

interface Fakes {
  options: SinkOptions;
  writes: InsertRow[][];
  published: OutgoingMessage[][];
  backoff: boolean[];
  retries: Array<[string, unknown, number]>;
}

/** A sink over a fake BigQuery (`write`) and a fake Kafka (`publish`). */
function fakes(overrides: Partial<SinkOptions> = {}): Fakes {
  const writes: InsertRow[][] = [];
  const published: OutgoingMessage[][] = [];
  const backoff: boolean[] = [];
  const retries: Array<[string, unknown, number]> = [];
  const options: SinkOptions = {
    topic: TOPIC,
    maxRows: 100,
    maxBytes: 1_000_000,
    maxWaitMs: 5,
    write: (rows) => {
      writes.push(rows);
      return Promise.resolve([]);
    },
    publish: (messages) => {
      published.push(messages);
      return Promise.resolve();
    },
    isTransient: (error) => error instanceof Transient,
    onBackoff: (paused) => backoff.push(paused),
    onRetry: (what, error, attempt) => retries.push([what, error, attempt]),
    backoff: { initialMs: 1, maxMs: 2 },
    now: () => INGESTED,
    ...overrides,
  };
  return { options, writes, published, backoff, retries };
}

function text(bytes: Uint8Array | string | undefined): string | undefined {
  return bytes instanceof Uint8Array ? new TextDecoder().decode(bytes) : bytes;
}

Deno.test("createSink() turns good messages into rows keyed by event_id", async () => {
  const f = fakes();
  const sink = createSink(f.options);
  await sink.handle(3, [message(10, event(1)), message(11, event(2, { user_id: 0 }))]);
  assert.equal(f.writes.length, 1);
  assert.deepEqual(f.writes[0], [
    {
      insertId: event(1).event_id,
      json: {
        ...event(1),
        ingested_at: INGESTED.toISOString(),
        kafka_partition: 3,
        kafka_offset: 10,
      },
    },
    {
      insertId: event(2).event_id,
      json: {
        ...event(2, { user_id: 0 }),
        ingested_at: INGESTED.toISOString(),
        kafka_partition: 3,
        kafka_offset: 11,
      },
    },
  ]);
  assert.deepEqual(f.published, []);
  assert.equal(sink.stats.consumed, 2);
  assert.equal(sink.stats.inserted, 2);
  assert.equal(sink.stats.batches, 1);
  assert.equal(sink.stats.lastBatchRows, 2);
});

Deno.test("createSink() derives insertIds for tutorial events from their coordinates", async () => {
  const f = fakes();
  const sink = createSink(f.options);
  const { event_id: _, ...tutorial } = event(1, { timestamp: "2022-11-03 07:22:13" });
  await sink.handle(1, [message(7, tutorial)]);
  await sink.handle(2, [message(7, tutorial)]);
  const [first, second] = f.writes.map((rows) => rows[0]!);
  assert.equal(first!.insertId, deriveEventId({ topic: TOPIC, partition: 1, offset: "7" }));
  assert.equal(second!.insertId, deriveEventId({ topic: TOPIC, partition: 2, offset: "7" }));
  assert.notEqual(first!.insertId, second!.insertId);
  assert.equal(first!.json.event_id, first!.insertId);
  assert.equal(first!.json.timestamp, "2022-11-03T07:22:13.000Z");
});

Deno.test("createSink() sends undecodable messages to the dead-letter topic as they were", async () => {
  const f = fakes();
  const sink = createSink(f.options);
  const invalidUtf8 = new Uint8Array([0x7b, 0xff, 0x7d]);
  const messages = [
    message(20, "{not json", { trace: "abc", binary: new Uint8Array([1, 2]), dropped: 5 }),
    message(21, event(1, { song_id: "x" })),
    message(22, invalidUtf8),
    message(23, null),
    message(24, event(2)),
  ];
  await sink.handle(4, messages);
  assert.equal(f.writes.flat().length, 1);
  assert.equal(f.writes[0]![0]!.json.kafka_offset, 24);
  const letters = f.published.flat();
  assert.equal(letters.length, 4);
  letters.forEach((letter, i) => {
    const source = messages[i]!;
    assert.equal(letter.value, source.value, "value bytes are kept unchanged");
    assert.equal(letter.key, source.key);
    assert.equal(letter.headers["source.topic"], TOPIC);
    assert.equal(letter.headers["source.partition"], "4");
    assert.equal(letter.headers["source.offset"], source.offset);
    assert.equal(letter.headers["source.timestamp"], source.timestamp);
  });
  assert.deepEqual(letters.map((letter) => letter.headers["error.kind"]), [
    "invalid-json",
    "invalid-event",
    "invalid-json",
    "invalid-json",
  ]);
  assert.match(
    String(letters[0]!.headers.error),
    /^Cannot parse event: the message is not valid JSON/,
  );
  assert.equal(
    letters[1]!.headers.error,
    `Cannot parse event: 'song_id' must be an integer, got "x"`,
  );
  assert.equal(letters[1]!.headers["error.field"], "song_id");
  assert.equal("error.field" in letters[0]!.headers, false);
  assert.equal(letters[2]!.headers.error, "Cannot parse event: the message is not valid UTF-8");
  assert.equal(letters[3]!.headers.error, "Cannot parse event: the message is empty");
  // The original headers travel along (those Kafka can carry).
  assert.equal(letters[0]!.headers.trace, "abc");
  assert.deepEqual(letters[0]!.headers.binary, new Uint8Array([1, 2]));
  assert.equal("dropped" in letters[0]!.headers, false);
  assert.deepEqual(sink.stats.deadLettered, {
    "invalid-json": 3,
    "invalid-event": 1,
    "rejected-by-bigquery": 0,
  });
  assert.equal(sink.stats.consumed, 5);
  assert.equal(sink.stats.inserted, 1);
});

Deno.test("createSink() dead-letters the rows BigQuery rejects and counts the others", async () => {
  const rejected: RejectedRow[] = [{ index: 1, reason: "invalid: no such field: x" }];
  const f = fakes();
  const sink = createSink({
    ...f.options,
    write: (rows) => {
      f.writes.push(rows);
      return Promise.resolve(rejected);
    },
  });
  const messages = [message(30, event(1)), message(31, event(2)), message(32, event(3))];
  await sink.handle(0, messages);
  const letters = f.published.flat();
  assert.equal(letters.length, 1);
  assert.equal(letters[0]!.value, messages[1]!.value);
  assert.deepEqual(letters[0]!.headers, {
    "error": "Cannot store event: invalid: no such field: x",
    "error.kind": "rejected-by-bigquery",
    "source.topic": TOPIC,
    "source.partition": "0",
    "source.offset": "31",
    "source.timestamp": messages[1]!.timestamp,
  });
  assert.equal(sink.stats.inserted, 2);
  assert.equal(sink.stats.deadLettered["rejected-by-bigquery"], 1);
});

Deno.test("createSink() maps rejected rows to the right message across partitions", async () => {
  const f = fakes({ maxWaitMs: 20 });
  const sink = createSink({
    ...f.options,
    write: (rows) => {
      f.writes.push(rows);
      return Promise.resolve(
        rows.flatMap((row, index) =>
          row.json.user_id === 1_002 ? [{ index, reason: "invalid" }] : []
        ),
      );
    },
  });
  await Promise.all([
    sink.handle(5, [message(1, event(1))]),
    sink.handle(6, [message(9, event(2))]),
  ]);
  assert.equal(f.writes.length, 1, "both partitions share one batch");
  const letter = f.published.flat()[0]!;
  assert.equal(letter.headers["source.partition"], "6");
  assert.equal(letter.headers["source.offset"], "9");
});

Deno.test("createSink() retries transient write failures and resolves after the write", async () => {
  const f = fakes();
  let calls = 0;
  let heartbeats = 0;
  const gate = Promise.withResolvers<RejectedRow[]>();
  const sink = createSink({
    ...f.options,
    write: (rows) => {
      calls++;
      f.writes.push(rows);
      if (calls <= 2) return Promise.reject(new Transient(`down ${calls}`));
      return gate.promise;
    },
    heartbeat: () => {
      heartbeats++;
      return Promise.resolve();
    },
  });
  let done = false;
  const handled = sink.handle(0, [message(1, event(1))]).then(() => done = true);
  while (calls < 3) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.equal(done, false, "handle() resolved before the write succeeded");
  assert.deepEqual(f.backoff, [true]);
  gate.resolve([]);
  await handled;
  assert.deepEqual(f.backoff, [true, false]);
  assert.deepEqual(f.retries.map(([what, , attempt]) => [what, attempt]), [["insert", 1], [
    "insert",
    2,
  ]]);
  assert.equal(heartbeats, 2);
  assert.equal(sink.stats.retries, 2);
  assert.equal(sink.stats.inserted, 1);
  assert.equal(sink.stats.batches, 1);
  // The same rows (same insertIds) are sent on every attempt.
  assert.deepEqual(f.writes[0], f.writes[2]);
});

Deno.test("createSink() keeps retrying when the heartbeat fails", async () => {
  const f = fakes();
  let calls = 0;
  const sink = createSink({
    ...f.options,
    write: () => ++calls === 1 ? Promise.reject(new Transient("down")) : Promise.resolve([]),
    heartbeat: () => Promise.reject(new Error("rebalancing")),
  });
  await sink.handle(0, [message(1, event(1))]);
  assert.equal(calls, 2);
  assert.equal(sink.stats.inserted, 1);
});

Deno.test("createSink() isolates rows refused for good by splitting the batch", async () => {
  const f = fakes();
  const poison = new Set([3, 6]);
  const attempts: number[][] = [];
  const sink = createSink({
    ...f.options,
    write: (rows) => {
      const offsets = rows.map((row) => Number(row.json.kafka_offset));
      attempts.push(offsets);
      // The whole request fails while it holds a poison row (like a 400).
      if (offsets.some((offset) => poison.has(offset))) {
        return Promise.reject(new Error(`invalid row in request of ${rows.length}`));
      }
      f.writes.push(rows);
      return Promise.resolve([]);
    },
  });
  const messages = Array.from({ length: 8 }, (_, i) => message(i, event(i)));
  await sink.handle(0, messages);

  const stored = f.writes.flat().map((row) => Number(row.json.kafka_offset)).sort((a, b) => a - b);
  assert.deepEqual(stored, [0, 1, 2, 4, 5, 7], "every good row is stored once");
  const letters = f.published.flat();
  assert.deepEqual(letters.map((l) => text(l.headers["source.offset"])).sort(), ["3", "6"]);
  for (const letter of letters) {
    assert.equal(text(letter.headers["error.kind"]), "rejected-by-bigquery");
    assert.match(
      text(letter.headers.error) ?? "",
      /^Cannot store event: invalid row in request of 1$/,
    );
  }
  assert.equal(sink.stats.inserted, 6);
  assert.equal(sink.stats.deadLettered["rejected-by-bigquery"], 2);
  assert.deepEqual(attempts[0], [0, 1, 2, 3, 4, 5, 6, 7], "the batch is tried whole first");
  assert.ok(attempts.every((offsets) => offsets.length >= 1));
});

Deno.test("createSink() gives up retrying when its signal aborts", async () => {
  const f = fakes();
  const controller = new AbortController();
  let calls = 0;
  const sink = createSink({
    ...f.options,
    signal: controller.signal,
    write: () => {
      if (++calls === 3) controller.abort();
      return Promise.reject(new Transient("down"));
    },
  });
  await assert.rejects(sink.handle(0, [message(1, event(1))]), Transient);
  assert.equal(calls, 3);
});

Deno.test("createSink() retries transient dead-letter failures before resolving", async () => {
  const f = fakes();
  let calls = 0;
  const sink = createSink({
    ...f.options,
    publish: (messages) => {
      if (++calls === 1) return Promise.reject(new Transient("broker down"));
      f.published.push(messages);
      return Promise.resolve();
    },
  });
  await sink.handle(0, [message(1, "nope")]);
  assert.equal(calls, 2);
  assert.equal(f.published.flat().length, 1);
  assert.deepEqual(f.retries.map(([what, , attempt]) => [what, attempt]), [["dead-letter", 1]]);
  assert.deepEqual(f.backoff, [true, false]);
  assert.equal(sink.stats.deadLettered["invalid-json"], 1);
});

Deno.test("createSink() does not count dead letters that were not published", async () => {
  const f = fakes();
  const sink = createSink({
    ...f.options,
    publish: () => Promise.reject(new Error("not allowed")),
  });
  await assert.rejects(sink.handle(0, [message(1, "nope")]), /not allowed/);
  assert.equal(sink.stats.deadLettered["invalid-json"], 0);
});

Deno.test("createSink() resolves handle() for an empty or all-bad set without writing", async () => {
  const f = fakes();
  const sink = createSink(f.options);
  await sink.handle(0, []);
  await sink.handle(0, [message(1, "[]")]);
  assert.deepEqual(f.writes, []);
  assert.equal(sink.stats.consumed, 1);
});

Deno.test("createSink() batches by maxRows and drain() flushes the rest", async () => {
  const f = fakes({ maxRows: 2, maxWaitMs: 10_000 });
  const sink = createSink(f.options);
  let done = false;
  const handled = sink.handle(0, [1, 2, 3].map((i) => message(i, event(i)))).then(() =>
    done = true
  );
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(f.writes.length, 1);
  assert.equal(done, false);
  await sink.drain();
  await handled;
  assert.deepEqual(f.writes.map((rows) => rows.length), [2, 1]);
  assert.equal(sink.stats.batches, 2);
  assert.equal(sink.stats.lastBatchRows, 1);
  assert.equal(sink.stats.inserted, 3);
});

Deno.test("createSink() reports each insert to onInsert", async () => {
  const inserts: number[] = [];
  const f = fakes();
  const sink = createSink({
    ...f.options,
    write: () => Promise.resolve([{ index: 0, reason: "invalid" }]),
    onInsert: (rows, millis) => {
      assert.ok(millis >= 0);
      inserts.push(rows);
    },
  });
  await sink.handle(0, [message(1, event(1)), message(2, event(2))]);
  assert.deepEqual(inserts, [1]);
});

Deno.test("failureOf() classifies decoding errors by field", () => {
  assert.deepEqual(failureOf(new EventError("the message is empty")), {
    kind: "invalid-json",
    reason: "Cannot parse event: the message is empty",
    field: undefined,
  });
  assert.deepEqual(failureOf(new EventError("'song_id' is missing", "song_id")), {
    kind: "invalid-event",
    reason: "Cannot parse event: 'song_id' is missing",
    field: "song_id",
  });
});
