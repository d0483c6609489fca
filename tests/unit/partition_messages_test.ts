import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { partitionMessages } from "../../shared/kafka/partition_messages.ts";

function partitions(count: number, leaderOf = (_partition: number) => 1): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: leaderOf(partitionId),
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
  }));
}

Deno.test("partitionMessages() places keys with the default partitioner (murmur2), one partition per group", () => {
  const keys = ["tony-allen/1", "tony-allen/2", "fela-kuti/7"];
  const messages = keys.flatMap((key) =>
    [0, 1].map((i) => ({ key: Buffer.from(key), value: `${key}#${i}` }))
  );
  const groups = partitionMessages(
    "t",
    messages,
    partitions(12),
    Partitioners.DefaultPartitioner(),
  );
  const choose = Partitioners.DefaultPartitioner();
  for (const [partition, group] of groups) {
    for (const { partition: placed, ...message } of group) {
      assert.equal(placed, partition);
      assert.equal(choose({ topic: "t", partitionMetadata: partitions(12), message }), partition);
    }
  }
  // Each key's messages together and in order.
  for (const key of keys) {
    const holding = [...groups.values()].filter((group) => group.some((m) => `${m.key}` === key));
    assert.equal(holding.length, 1, key);
    assert.deepEqual(
      holding[0]!.filter((m) => `${m.key}` === key).map((m) => m.value),
      [`${key}#0`, `${key}#1`],
    );
  }
  assert.deepEqual([...groups.keys()], [...groups.keys()].sort((a, b) => a - b));
});

Deno.test("partitionMessages() spreads unkeyed messages round-robin and fixes each one's partition", () => {
  const messages = Array.from({ length: 6 }, (_, i) => ({ key: null, value: `${i}` }));
  const groups = partitionMessages("t", messages, partitions(3), Partitioners.DefaultPartitioner());
  assert.deepEqual([...groups.values()].map((group) => group.length), [2, 2, 2]);
  for (const [partition, group] of groups) {
    assert.ok(group.every((message) => message.partition === partition));
  }
});

Deno.test("partitionMessages() rejects a topic without partitions", () => {
  assert.throws(
    () =>
      partitionMessages("t", [{ key: null, value: "x" }], [], Partitioners.DefaultPartitioner()),
    /Cannot place messages on the partitions of t: it has none/,
  );
});
