import assert from "node:assert/strict";

import "../support/lenient_env.ts";
const { isTransientKafkaError } = await import("../../shared/kafka/errors.ts");
const {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} = await kafkajsErrors();

/** The error classes, from the CommonJS module object (not detected as named exports). */
async function kafkajsErrors() {
  const module = await import("kafkajs");
  return (module as unknown as { default: typeof module }).default;
}

/** A protocol error as kafkajs builds it from a broker error code. */
function protocolError(type: string, code: number, retriable: boolean): Error {
  return new KafkaJSProtocolError(
    Object.assign(new Error(`broker said ${type}`), { type, code, retriable }),
  );
}

// What kafkajs' retrier throws: the error wrapped, with `cause` set.
const NonRetriable = KafkaJSNonRetriableError as unknown as new (
  e: Error,
  metadata: { cause: Error },
) => Error;

Deno.test("isTransientKafkaError() does not retry errors that would fail again", () => {
  for (
    const [type, code] of [
      ["UNKNOWN_TOPIC_OR_PARTITION", 3],
      ["MESSAGE_TOO_LARGE", 10],
      ["RECORD_LIST_TOO_LARGE", 18],
      ["INVALID_RECORD", 87],
      ["INVALID_TOPIC_EXCEPTION", 17],
      ["TOPIC_AUTHORIZATION_FAILED", 29],
      ["CLUSTER_AUTHORIZATION_FAILED", 31],
      ["SASL_AUTHENTICATION_FAILED", 58],
    ] as const
  ) {
    assert.equal(isTransientKafkaError(protocolError(type, code, false)), false, type);
  }
});

Deno.test("isTransientKafkaError() finds a permanent error wrapped by the retrier", () => {
  const cause = protocolError("MESSAGE_TOO_LARGE", 10, false);
  const wrapped = new NonRetriable(cause, { cause });
  assert.equal(isTransientKafkaError(wrapped), false);
  // Also behind an originalError and a further level of wrapping.
  assert.equal(isTransientKafkaError({ originalError: { cause } }), false);
});

Deno.test("isTransientKafkaError() retries broker and connection trouble", () => {
  const cases: unknown[] = [
    protocolError("LEADER_NOT_AVAILABLE", 5, true),
    protocolError("NOT_LEADER_FOR_PARTITION", 6, true),
    protocolError("REQUEST_TIMED_OUT", 7, true),
    protocolError("NOT_ENOUGH_REPLICAS", 19, true),
    // The idempotent producer's own state: a new producer (id) fixes these.
    protocolError("OUT_OF_ORDER_SEQUENCE_NUMBER", 45, false),
    protocolError("UNKNOWN_PRODUCER_ID", 59, false),
    new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9092"),
    new KafkaJSRequestTimeoutError("Request Produce(key: 0, version: 7) timed out"),
    new KafkaJSError("There is no leader for this topic-partition"),
    new Error("something else"),
    "a string",
    null,
    undefined,
  ];
  for (const error of cases) assert.equal(isTransientKafkaError(error), true, String(error));
});

Deno.test("isTransientKafkaError() retries when the client ran out of retries", () => {
  const cause = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9092");
  const exhausted = new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 12, retryTime: 5_000 });
  assert.equal(isTransientKafkaError(exhausted), true);
});

Deno.test("isTransientKafkaError() stops following a cycle of causes", () => {
  const a: Record<string, unknown> = {};
  const b: Record<string, unknown> = { cause: a };
  a.cause = b;
  assert.equal(isTransientKafkaError(a), true);
});

// The source, publisher and admin against the local broker.

const {
  createAdmin,
  createKafka,
  createSource,
  ensureTopic,
  installKafkaPatches,
  openPublisher,
} = await import("../../shared/kafka/mod.ts");
installKafkaPatches(); // the scripts' Kafka, in this process too

function localKafka() {
  return createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" });
}

async function waitUntil(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function topicWith(messages: number, partitions: number): Promise<string> {
  const kafka = localKafka();
  const topic = `source_${crypto.randomUUID().slice(0, 8)}`;
  await ensureTopic(kafka, topic, partitions);
  const publisher = await openPublisher(kafka);
  try {
    const deliveries = await publisher.send(
      topic,
      Array.from({ length: messages }, (_, i) => ({ key: `song-${i}`, value: `play ${i}` })),
    );
    assert.ok(deliveries.every((d) => d.topic === topic));
  } finally {
    await publisher.close();
  }
  return topic;
}

Deno.test("createSource() hands over batches and commits with metadata that committed() reads back", async () => {
  const topic = await topicWith(20, 2);
  const group = `group_${crypto.randomUUID().slice(0, 8)}`;
  const kafka = localKafka();
  const source = createSource(kafka, { topic, group, maxWaitMs: 100 });
  const assigned: number[][] = [];
  const revoked: number[][] = [];
  source.onAssigned((partitions) => assigned.push(partitions));
  source.onRevoked((partitions) => revoked.push(partitions));
  const values: string[] = [];
  await source.run(async (batch, heartbeat) => {
    for (const message of batch.messages) values.push(new TextDecoder().decode(message.value!));
    assert.equal(batch.nextOffset, BigInt(batch.messages.at(-1)!.offset) + 1n);
    assert.ok(batch.highWatermark >= batch.nextOffset);
    await heartbeat();
    await source.commit(batch.partition, batch.nextOffset, `stream-a:${batch.nextOffset}`);
  });
  const admin = createAdmin(kafka);
  try {
    await waitUntil("all 20 messages", () => values.length >= 20);
    assert.equal(new Set(values).size, 20);
    assert.deepEqual(assigned.at(-1)?.sort(), [0, 1]);
    const committed = await admin.committed(group, topic);
    const total = [...committed.values()].reduce((sum, c) => sum + c.offset, 0n);
    assert.equal(total, 20n);
    for (const { offset, metadata } of committed.values()) {
      assert.equal(metadata, `stream-a:${offset}`);
    }
    assert.deepEqual((await source.lag()).map((p) => p.lag), [0n, 0n]);
  } finally {
    await source.stop();
    await admin.close();
  }
  assert.deepEqual(revoked.at(-1)?.sort(), [0, 1], "stop gives the partitions up");
});

Deno.test("createSource() fetches a batch again when its handler throws", async () => {
  const topic = await topicWith(5, 1);
  const source = createSource(localKafka(), {
    topic,
    group: `group_${crypto.randomUUID().slice(0, 8)}`,
    maxWaitMs: 100,
  });
  const seen: string[][] = [];
  await source.run((batch) => {
    seen.push(batch.messages.map((m) => m.offset));
    if (seen.length === 1) return Promise.reject(new Error("not stored"));
    return source.commit(batch.partition, batch.nextOffset);
  });
  try {
    await waitUntil("the batch a second time", () => seen.length >= 2);
    assert.deepEqual(seen[1], seen[0], "the same messages again");
    assert.equal(seen[0]?.[0], "0");
  } finally {
    await source.stop();
  }
});

Deno.test("createSource() stops fetching while paused", async () => {
  const topic = await topicWith(3, 1);
  const kafka = localKafka();
  const source = createSource(kafka, {
    topic,
    group: `group_${crypto.randomUUID().slice(0, 8)}`,
    maxWaitMs: 100,
  });
  let read = 0;
  await source.run((batch) => {
    read += batch.messages.length;
    return source.commit(batch.partition, batch.nextOffset);
  });
  const publisher = await openPublisher(kafka);
  try {
    await waitUntil("the first 3", () => read === 3);
    source.pause();
    await publisher.send(topic, [{ key: null, value: "late" }]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(read, 3, "nothing read while paused");
    source.resume();
    await waitUntil("the 4th after resume", () => read === 4);
  } finally {
    await publisher.close();
    await source.stop();
  }
});

/** Every value in `topic`, as `partition@offset=value`, in partition and offset order. */
async function topicContents(topic: string): Promise<string[]> {
  const { readToEnd } = await import("../../shared/kafka/mod.ts");
  const contents: string[] = [];
  await readToEnd(localKafka(), {
    topic,
    onBatch: (records) => {
      for (const r of records) {
        contents.push(`${r.partition}@${r.offset}=${new TextDecoder().decode(r.value!)}`);
      }
      return Promise.resolve();
    },
  });
  return contents.sort();
}

Deno.test("publisher: after a partly written request, the next request is written, not taken for it", async () => {
  // The broker writes "a" to one partition and refuses the oversized record
  // on the other, so the request fails. kafkajs rolls back the sequence
  // numbers of both partitions; a producer that kept going would send "b"
  // or "c" with the numbers of "a", and the broker would acknowledge it as
  // "a" again without writing it.
  const kafka = localKafka();
  const topic = `partial_${crypto.randomUUID().slice(0, 8)}`;
  await ensureTopic(kafka, topic, 2, { "max.message.bytes": "4096" });
  const publisher = await openPublisher(kafka);
  try {
    await assert.rejects(
      publisher.send(topic, [{ key: null, value: "a" }, { key: null, value: "x".repeat(8_000) }]),
      (error: { type?: string }) => error.type === "MESSAGE_TOO_LARGE",
    );
    const deliveries = await publisher.send(topic, [
      { key: null, value: "b" },
      { key: null, value: "c" },
    ]);
    assert.equal(deliveries.length, 2);
  } finally {
    await publisher.close();
  }
  const values = (await topicContents(topic)).map((entry) => entry.split("=")[1]).sort();
  assert.deepEqual(values, ["a", "b", "c"], "both acknowledged records are in the topic");
});

Deno.test("publisher: concurrent sends are served one at a time, in call order", async () => {
  const kafka = localKafka();
  const topic = `ordered_${crypto.randomUUID().slice(0, 8)}`;
  await ensureTopic(kafka, topic, 1);
  const publisher = await openPublisher(kafka);
  try {
    const sends = Array.from(
      { length: 20 },
      (_, i) => publisher.send(topic, [{ key: "song", value: `play ${i}` }]),
    );
    const offsets = (await Promise.all(sends)).map((d) => Number(d[0]?.baseOffset));
    assert.deepEqual(offsets, Array.from({ length: 20 }, (_, i) => i));
  } finally {
    await publisher.close();
  }
});

Deno.test("publisher: a send to a missing topic fails within seconds, as not transient", async () => {
  const { isTransientKafkaError, KafkaTopicNotFoundError } = await import(
    "../../shared/kafka/mod.ts"
  );
  const publisher = await openPublisher(localKafka());
  try {
    const started = Date.now();
    const error = await publisher.send(`missing_${crypto.randomUUID().slice(0, 8)}`, [
      { key: null, value: "x" },
    ]).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof KafkaTopicNotFoundError, String(error));
    assert.equal(isTransientKafkaError(error), false);
    assert.ok(Date.now() - started < 5_000, `failed after ${Date.now() - started} ms`);
  } finally {
    await publisher.close();
  }
});

Deno.test("publisher: an aborted send fails at once and sends nothing", async () => {
  const kafka = localKafka();
  const topic = `aborted_${crypto.randomUUID().slice(0, 8)}`;
  await ensureTopic(kafka, topic, 1);
  const publisher = await openPublisher(kafka);
  try {
    await assert.rejects(
      publisher.send(topic, [{ key: null, value: "x" }], { signal: AbortSignal.abort() }),
      /Cannot send to aborted_\w+: stopped/,
    );
    await publisher.send(topic, [{ key: null, value: "y" }]);
  } finally {
    await publisher.close();
  }
  assert.deepEqual(await topicContents(topic), ["0@0=y"]);
});

Deno.test("groupGeneration() grows with each rebalance of a group", async () => {
  const { groupGeneration } = await import("../../shared/kafka/group_generation.ts");
  const topic = await topicWith(4, 2);
  const group = `group_${crypto.randomUUID().slice(0, 8)}`;
  const kafka = localKafka();
  assert.equal(await groupGeneration(kafka, group), undefined, "no generation before any member");
  const assigned = [0, 0];
  const sources = [0, 1].map((i) => {
    const source = createSource(kafka, { topic, group, maxWaitMs: 100 });
    source.onAssigned(() => assigned[i]!++);
    return source;
  });
  try {
    await sources[0]!.run(() => Promise.resolve());
    await waitUntil("the first member's assignment", () => assigned[0]! >= 1);
    const first = await groupGeneration(kafka, group);
    assert.ok(first !== undefined && first >= 1, `generation ${first}`);
    await sources[1]!.run(() => Promise.resolve());
    await waitUntil("the second member's assignment", () => assigned[1]! >= 1);
    const second = await groupGeneration(kafka, group);
    assert.ok(second !== undefined && second > first, `generation ${first} → ${second}`);
  } finally {
    for (const source of sources) await source.stop();
  }
});
