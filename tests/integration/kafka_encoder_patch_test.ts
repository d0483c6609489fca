import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import {
  fastVarintsInstalled,
  fastVarintWrites,
  type VarintWriters,
} from "../../shared/kafka/encoder_patch.ts";
import { createKafka, ensureTopic, openPublisher } from "../../shared/kafka/mod.ts";

// Read before this file installs anything itself: loading the Kafka client must have.
const installedByClient = fastVarintsInstalled();

test("publishing goes through the patched varint writers", async () => {
  assert.ok(installedByClient, "loading shared/kafka/ installs the fast varint writers");
  const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" });
  const topic = `encoder_${crypto.randomUUID().slice(0, 8)}`;
  await ensureTopic(kafka, topic, 1);
  const publisher = await openPublisher(kafka);
  try {
    const before = fastVarintWrites();
    const [delivery] = await publisher.send(topic, [{ key: "song-1", value: "{}" }]);
    assert.equal(delivery?.topic, topic, "acknowledged by the broker");
    // A record batch writes several varints per record (length, deltas, key, value, headers).
    assert.ok(
      fastVarintWrites() - before >= 5,
      `the producer encoded through the patched writers (${fastVarintWrites() - before} writes)`,
    );
  } finally {
    await publisher.close();
  }
});
type AnEncoder = ThisParameterType<VarintWriters["writeUVarInt"]>;
