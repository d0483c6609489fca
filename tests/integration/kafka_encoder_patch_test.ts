import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { fastVarintsInstalled, fastVarintWrites } from "../../shared/kafka/encoder_patch.ts";
import {
  createKafka,
  ensureTopic,
  installKafkaPatches,
  openPublisher,
} from "../../shared/kafka/mod.ts";

// As every entry script that uses Kafka does (tests/unit/kafka_patches_test.ts
// checks that they do).
installKafkaPatches();
const installedByCall = fastVarintsInstalled();

test("publishing goes through the patched varint writers", async () => {
  assert.ok(installedByCall, "installKafkaPatches() installs the fast varint writers");
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
