/**
 * Reference (b) of the `sink` benchmark: a Kafka → BigQuery consumer written
 * the way the original tutorial writes one. It subscribes with kafkajs, and
 * for each message parses the JSON and streams it with one `insert()` call,
 * leaving offset commits to kafkajs (`autoCommit`, the default), then prints
 * a line, as tutorials do. No batching, no dead-letter topic, no validation.
 *
 * It imports kafkajs and the BigQuery client directly (not through
 * `shared/`) on purpose: it stands for code outside this project. Rows get
 * the same columns our consumer writes, so both fill the same table schema.
 *
 * Run by the benchmark with the consume task's permissions:
 * `deno run … bench/tutorial_consumer.ts --topic T --group G --table TABLE`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BigQuery } from "@google-cloud/bigquery";
import { PassThroughClient } from "google-auth-library";
import { Kafka } from "kafkajs";

const { values } = parseArgs({
  options: {
    topic: { type: "string", default: "tony-allen-plays" },
    group: { type: "string", default: "tutorial-consumer" },
    table: { type: "string", default: "plays" },
  },
});

const kafka = new Kafka({ clientId: "tutorial-consumer", brokers: ["127.0.0.1:9092"] });
const consumer = kafka.consumer({ groupId: values.group });

const bigquery = new BigQuery({
  projectId: "livecharts-local",
  apiEndpoint: Deno.env.get("BIGQUERY_EMULATOR_HOST") ?? "http://127.0.0.1:9050",
  authClient: new PassThroughClient(),
});
const table = bigquery.dataset("music").table(values.table);

await consumer.connect();
await consumer.subscribe({ topic: values.topic, fromBeginning: true });

await consumer.run({
  eachMessage: async ({ partition, message }) => {
    const event: Record<string, unknown> = JSON.parse(message.value?.toString() ?? "{}");
    await table.insert({
      ...event,
      ingested_at: new Date().toISOString(),
      kafka_partition: partition,
      kafka_offset: Number(message.offset),
    });
    console.log(`Inserted play ${event.event_id} of ${event.artist}/${event.song_name}`);
  },
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await consumer.disconnect();
    Deno.exit(0);
  });
}
