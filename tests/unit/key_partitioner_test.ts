import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import kafkajsMurmur2 from "kafkajs/src/producer/partitioners/default/murmur2.js";
import { KeyPartitioner, murmur2 } from "../../shared/kafka/key_partitioner.ts";

Deno.test("murmur2() gives the Java client's values and kafkajs' on random keys of every length", () => {
  // Values of Kafka's own test of Utils.murmur2.
  const java: [string, number][] = [
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ];
  for (const [key, value] of java) assert.equal(murmur2(new TextEncoder().encode(key)), value, key);
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 20_000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(random() * 41) }, () => random() * 256);
    assert.equal(murmur2(bytes), kafkajsMurmur2(Buffer.from(bytes)), `key ${bytes.join(",")}`);
  }
});

Deno.test("KeyPartitioner() places keyed, unkeyed and already placed messages as kafkajs' default does", () => {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: 12 }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
  const ours = KeyPartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  for (let song = 0; song < 2_000; song++) {
    for (const key of [`tony-allen/${song}`, Buffer.from(`fela-kuti/${song}ü`)]) {
      const message = { key, value: "x" };
      assert.equal(
        ours({ topic: "t", partitionMetadata, message }),
        theirs({ topic: "t", partitionMetadata, message }),
        String(key),
      );
    }
  }
  assert.equal(
    ours({ topic: "t", partitionMetadata, message: { key: "a", value: "x", partition: 5 } }),
    5,
  );
  const unkeyed = Array.from(
    { length: 24 },
    () => ours({ topic: "t", partitionMetadata, message: { key: null, value: "x" } }),
  );
  assert.deepEqual(new Set(unkeyed).size, 12, "round-robin over every partition");
});
