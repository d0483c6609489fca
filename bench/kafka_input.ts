/**
 * The consumer's Kafka input alone: a group member with the consumer's own
 * fetch settings (`sourceSettings()`) reading a topic from its start and
 * doing nothing with its batches, until it has seen `EVENTS` messages; then
 * it leaves the group and exits. A reference of `sink_ceiling`: how fast
 * kafkajs hands the consumer its messages, against how fast the consumer
 * stores them. Run under the consume task's V8 flags:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1:9092 --allow-env \
 *   --v8-flags=--max-semi-space-size=2,--heap-growing-percent=35 \
 *   bench/kafka_input.ts TOPIC EVENTS
 * ```
 *
 * @module
 */

import { createKafka, createSource, installKafkaPatches } from "../shared/kafka/mod.ts";
import { sourceSettings } from "../shared/sink/mod.ts";

if (import.meta.main) {
  installKafkaPatches();
  const [topic, count] = [Deno.args[0], Number(Deno.args[1])];
  if (topic === undefined || !Number.isSafeInteger(count) || count < 1) {
    throw new Error(
      `Cannot read: expected TOPIC and EVENTS (a positive integer), got ${
        JSON.stringify(Deno.args)
      }`,
    );
  }
  const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-bench-input" });
  const source = createSource(
    kafka,
    sourceSettings({ topic, group: `input_${crypto.randomUUID()}`, maxWaitMs: 1_000 }),
  );
  const all = Promise.withResolvers<void>();
  let seen = 0;
  await source.run((batch) => {
    seen += batch.messages.length;
    if (seen >= count) all.resolve();
    return Promise.resolve();
  });
  await all.promise;
  await source.stop();
  console.log(JSON.stringify({ messages: seen }));
}
