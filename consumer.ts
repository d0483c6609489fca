/**
 * `deno task consume`: streams `song_completed` events from Kafka into
 * BigQuery exactly once (Storage Write API; `--write-api insert-all`: at
 * least once), with a dead-letter topic for events that cannot be stored.
 *
 * Flow: Kafka topic → one writer per partition: decode → append to the
 * partition's write stream (+ DLQ) → commit the offset with the stream's
 * name and row offset. Shutdown goes the same way: stop fetching, store and
 * commit what was read, finalize the streams, leave the group.
 *
 * @module
 */

import { openDestination } from "./shared/bigquery/mod.ts";
import { deadlineAfter, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { DEAD_LETTER_TOPIC_CONFIG } from "./shared/dlq/mod.ts";
import { errorMessage } from "./shared/errors.ts";
import { schemaJson } from "./shared/schema.ts";
import {
  createAdmin,
  createKafka,
  createSource,
  ensureTopic,
  installKafkaPatches,
  openPublisher,
} from "./shared/kafka/mod.ts";
import { logFatal, logger, serveMetrics, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import {
  createConsumerMetrics,
  createSinkStream,
  createTableState,
  destinationSettings,
  logDestination,
  logStopped,
  runSettings,
  sourceSettings,
  startConsumerProgress,
  streamSettings,
  waitForTable,
} from "./shared/sink/mod.ts";
import { consumerOptions } from "./shared/tables/mod.ts";

/** The options of this script (`shared/tables/`, where the launcher reads them). */
export const options = consumerOptions;

const log = logger("consumer");

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task consume [options]",
    summary:
      "Streams song_completed events from Kafka into BigQuery (exactly once, with a dead-letter topic).",
  }, options);
  if (config.printSchema) {
    console.log(schemaJson(config.schemaEvolution));
    return 0;
  }
  await setupLogging({ level: config.logLevel, file: config.logFile });
  const stop = shutdownSignal((name) =>
    log.info("Received {signal}: storing and committing what was read", { signal: name })
  );
  const giveUp = deadlineAfter(stop, 8_000);
  const metrics = createConsumerMetrics({ stuckAfterMs: config.stuckAfter * 1000 });
  const onBlocked = metrics.setBlocked;
  const metricsServer = serveMetrics({
    hostname: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    health: metrics.health,
  });

  // Output first, so nothing is read before it can be written.
  const destination = await openDestination(config, destinationSettings(config));
  const table = createTableState(destination);
  const { createTable } = config;
  if (!await waitForTable({ destination, table, createTable, signal: stop, onBlocked })) {
    log.info("Stopped before BigQuery could take rows: nothing was read");
    destination.close();
    await metricsServer?.shutdown();
    await stopLogging();
    return 0;
  }
  logDestination(destination, { local: config.emulatorHost !== undefined });
  const kafka = createKafka({ ...config, clientId: "livecharts-consumer" });
  await ensureTopic(kafka, config.topic, config.partitions);
  await ensureTopic(kafka, config.dlqTopic, 1, DEAD_LETTER_TOPIC_CONFIG);
  const deadLetters = await openPublisher(kafka);
  const admin = createAdmin(kafka);

  // Kafka → a writer per partition (decode, append, dead letters) → commit.
  const stream = createSinkStream({
    ...streamSettings(config),
    maxLetterBytes: await admin.maxMessageBytes(config.dlqTopic),
    source: createSource(kafka, sourceSettings(config)),
    destination,
    table,
    committed: async (partition) =>
      (await admin.committed(config.group, config.topic)).get(partition),
    deadLetters,
    metrics,
    giveUp,
    maxFutureMs: config.maxFutureSkew,
    schemaEvolution: config.schemaEvolution,
  });
  const progress = startConsumerProgress(stream, metrics);
  await stream.run(runSettings(config, stop));

  // Shutdown in flow order: input (and what the writers hold), then the outputs.
  const { failed, abandoned } = await stream.close();
  await deadLetters.close();
  await admin.close().catch(() => {});
  destination.close();
  await metricsServer?.shutdown();
  progress.stop();
  logStopped(stream.stats, { abandoned });
  await stopLogging();
  return failed || abandoned ? 1 : 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    await logFatal(log, "Consumer failed: {error}", { error: errorMessage(error) });
    Deno.exit(1);
  });
}
