import assert from "node:assert/strict";
import { test } from "../support/integration.ts";

import "../support/lenient_env.ts";
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

test("createSource() hands over batches and commits with metadata that committed() reads back", async () => {
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

test("createSource() fetches a batch again when its handler throws", async () => {
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

test("createSource() stops fetching a paused partition while it reads the others", async () => {
  const topic = await topicWith(3, 2);
  const kafka = localKafka();
  const source = createSource(kafka, {
    topic,
    group: `group_${crypto.randomUUID().slice(0, 8)}`,
    maxWaitMs: 100,
  });
  const read = new Map<number, number>();
  const total = () => [...read.values()].reduce((a, b) => a + b, 0);
  await source.run((batch) => {
    read.set(batch.partition, (read.get(batch.partition) ?? 0) + batch.messages.length);
    return source.commit(batch.partition, batch.nextOffset);
  });
  const publisher = await openPublisher(kafka);
  try {
    await waitUntil("the first 3", () => total() === 3);
    source.pause();
    const [late] = await publisher.send(topic, [{ key: "late", value: "late" }]);
    const paused = late!.partition;
    const other = 1 - paused;
    const before = new Map(read);
    source.resume([other]);
    // Sent after "late": once one of these is read, a fetch has passed over "late".
    const markers = await publisher.send(
      topic,
      Array.from({ length: 20 }, (_, i) => ({ key: `marker-${i}`, value: `marker ${i}` })),
    );
    const onOther = markers.filter((d) => d.partition === other).length;
    assert.ok(onOther > 0, "some markers land on the partition that is not paused");
    await waitUntil(
      "a marker on the other partition",
      () => (read.get(other) ?? 0) > (before.get(other) ?? 0),
    );
    assert.equal(
      read.get(paused) ?? 0,
      before.get(paused) ?? 0,
      "nothing read from the paused partition",
    );
    source.resume([paused]);
    await waitUntil("everything after resume", () => total() === 3 + 1 + 20);
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

test("publisher: after a partly written request, the next request is written, not taken for it", async () => {
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

test("publisher: concurrent sends are served one at a time, in call order", async () => {
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

test("publisher: a send to a missing topic fails within seconds, as not transient", async () => {
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

test("publisher: an aborted send fails at once and sends nothing", async () => {
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

test("groupGeneration() grows with each rebalance of a group", async () => {
  const { groupGeneration } = await import("../support/group_generation.ts");
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
