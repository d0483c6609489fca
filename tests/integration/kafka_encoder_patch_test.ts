import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { fastVarintsInstalled, fastVarintWrites } from "../../shared/kafka/encoder_patch.ts";
import { fastBatchCounts } from "../../shared/kafka/batch_patch.ts";
import { fastRecordCounts } from "../../shared/kafka/record_decoder_patch.ts";
import {
  createKafka,
  ensureTopic,
  installKafkaPatches,
  openPublisher,
  readToEnd,
} from "../../shared/kafka/mod.ts";

// As every entry script that uses Kafka does (tests/unit/kafka_patches_test.ts
// checks that they do).
installKafkaPatches();
const installedByCall = fastVarintsInstalled();

test("publishing goes through the patched varint writers, records and checksums, reading through the patched record decoder", async () => {
  assert.ok(installedByCall, "installKafkaPatches() installs the fast varint writers");
  const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" });
  const topic = `encoder_${crypto.randomUUID().slice(0, 8)}`;
  await ensureTopic(kafka, topic, 1);
  const publisher = await openPublisher(kafka);
  try {
    const before = fastVarintWrites();
    const batchesBefore = fastBatchCounts();
    // A record without headers is written by the patch; one with headers by
    // kafkajs, through the patched varint writers.
    const [delivery] = await publisher.send(topic, [
      { key: "song-1", value: "{}" },
      { key: null, value: "dead", headers: { reason: "bad" } },
    ]);
    assert.equal(delivery?.topic, topic, "acknowledged by the broker");
    // The broker refuses a batch whose CRC32C or records are malformed
    // (CORRUPT_MESSAGE): acknowledged, they were right.
    const batches = fastBatchCounts();
    assert.equal(batches.records - batchesBefore.records, 1, "one record written by the patch");
    assert.equal(batches.batches - batchesBefore.batches, 1, "the batch checksummed by the patch");
    // kafkajs' record writes several varints (length, deltas, key, value, header).
    assert.ok(
      fastVarintWrites() - before >= 5,
      `the producer encoded through the patched writers (${fastVarintWrites() - before} writes)`,
    );
    const read: string[] = [];
    const decodedBefore = fastRecordCounts();
    await readToEnd(kafka, {
      topic,
      onBatch: (records) => {
        for (const record of records) {
          const text = (bytes: Uint8Array | null) => bytes && new TextDecoder().decode(bytes);
          const headers = Object.entries(record.headers).map(([k, v]) => `${k}=${text(v)}`);
          read.push(
            `${record.offset} ${text(record.key)} ${text(record.value)} ${headers.join(",")}`,
          );
          const age = Date.now() - Number(record.timestamp);
          assert.ok(age >= 0 && age < 60_000, `timestamp ${record.timestamp} is the send's`);
        }
        return Promise.resolve();
      },
    });
    assert.deepEqual(read, ["0 song-1 {} ", "1 null dead reason=bad"], "read back as sent");
    // The record without headers was decoded by the patch, the other by kafkajs.
    const decoded = fastRecordCounts();
    assert.equal(decoded.records - decodedBefore.records, 1, "one record read by the patch");
    assert.equal(decoded.byKafkajs - decodedBefore.byKafkajs, 1, "one record left to kafkajs");
  } finally {
    await publisher.close();
  }
});
