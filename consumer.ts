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

import { bigqueryOptions, openDestination, storageApiOptions } from "./shared/bigquery/mod.ts";
import { errorMessage } from "./shared/errors.ts";
import { deadlineAfter, optional, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import {
  createAdmin,
  createKafka,
  createSource,
  ensureTopic,
  groupOptions,
  installKafkaPatches,
  kafkaOptions,
  openPublisher,
  partitionsOption,
} from "./shared/kafka/mod.ts";
import {
  compact,
  healthOptions,
  logger,
  logLevelOption,
  metricsServerOptions,
  rateMeter,
  serveMetrics,
  setupLogging,
  startProgress,
  stopLogging,
} from "./shared/ops/mod.ts";
import {
  batchOptions,
  createConsumerMetrics,
  createSinkStream,
  createTableState,
  exitWhenIdleOption,
  waitForTable,
  writeOptions,
} from "./shared/sink/mod.ts";

/** Dead letters carry a whole source message plus headers: allow more than 1 MB. */
const DLQ_TOPIC_CONFIG = { "max.message.bytes": String(4 * 1024 * 1024) };

/** The options of this script (the launcher derives its grants from them). */
export const options = {
  ...kafkaOptions,
  ...groupOptions,
  ...bigqueryOptions,
  ...storageApiOptions,
  ...writeOptions,
  ...batchOptions,
  partitions: partitionsOption,
  exitWhenIdle: exitWhenIdleOption,
  ...metricsServerOptions,
  ...healthOptions,
  logFile: {
    flag: "log-file",
    arg: "FILE",
    help: "Also append logs to this file",
    fallback: undefined,
    parse: optional,
    grant: "write" as const,
  },
  logLevel: logLevelOption,
};

const log = logger("consumer");

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task consume [options]",
    summary:
      "Streams song_completed events from Kafka into BigQuery (exactly once, with a dead-letter topic).",
  }, options);
  await setupLogging({ level: config.logLevel, file: config.logFile });
  const stop = shutdownSignal((name) =>
    log.info("Received {signal}: storing and committing what was read", { signal: name })
  );
  const giveUp = deadlineAfter(stop, 8_000);
  const metrics = createConsumerMetrics({ stuckAfterMs: config.stuckAfter * 1000 });
  const metricsServer = serveMetrics({
    hostname: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    health: metrics.health,
  });

  // Output first, so nothing is read before it can be written.
  const destination = await openDestination(config, {
    api: config.writeApi,
    storageEmulator: config.emulatorHost === undefined ? undefined : config.storageEmulatorHost,
  });
  const table = createTableState(destination);
  const ready = await waitForTable({
    destination,
    table,
    createTable: config.createTable,
    signal: stop,
    onBlocked: metrics.setBlocked,
  });
  if (!ready) {
    log.info("Stopped before BigQuery could take rows: nothing was read");
    destination.close();
    await metricsServer?.shutdown();
    await stopLogging();
    return 0;
  }
  log.info("Writing to {table} ({mode})", {
    table: destination.table,
    mode: `${destination.exactlyOnce ? "exactly once" : "at least once"} via ${destination.api}, ${
      config.emulatorHost === undefined ? "BigQuery" : "local BigQuery"
    }`,
  });
  const kafka = createKafka({ ...config, clientId: "livecharts-consumer" });
  await ensureTopic(kafka, config.topic, config.partitions);
  await ensureTopic(kafka, config.dlqTopic, 1, DLQ_TOPIC_CONFIG);
  const deadLetters = await openPublisher(kafka);
  const admin = createAdmin(kafka);

  // Tests only: exit between an acknowledged append and its commit.
  let acknowledged = 0;
  const crashAfter = config.crashAfterAppends;
  const onAcknowledged = crashAfter === undefined ? undefined : (partition: number) => {
    if (++acknowledged < crashAfter) return;
    console.error(
      `failpoint: exiting after append ${acknowledged} (partition ${partition}) was acknowledged, before its commit`,
    );
    Deno.exit(70);
  };

  // Kafka → a writer per partition (decode, append, dead letters) → commit.
  const stream = createSinkStream({
    source: createSource(kafka, {
      topic: config.topic,
      group: config.group,
      // What a partition's writer holds stays in memory until it is stored,
      // so fetches stay small (~2,500 plays per partition).
      maxBytesPerPartition: 512 * 1024,
      maxBytes: 1536 * 1024,
      maxWaitMs: Math.max(100, Math.min(config.maxWaitMs, 1_000)),
      partitionsAtOnce: 8,
    }),
    destination,
    table,
    createTable: config.createTable,
    committed: async (partition) =>
      (await admin.committed(config.group, config.topic)).get(partition),
    deadLetters,
    dlqTopic: config.dlqTopic,
    maxRows: config.maxRows,
    maxBytes: config.maxBytes,
    maxWaitMs: config.maxWaitMs,
    concurrency: config.concurrency,
    metrics,
    giveUp,
    ...(onAcknowledged === undefined ? {} : { onAcknowledged }),
  });
  const meter = rateMeter();
  const progress = startProgress({
    render: () => {
      const s = stream.stats;
      const dlq = Object.values(s.deadLettered).reduce((sum, n) => sum + n, 0);
      return `consumer: consumed ${compact(s.consumed)} | inserted ${compact(s.inserted)}` +
        ` | dlq ${dlq} | retries ${s.retries} | lag ${metrics.totalLag()}` +
        ` | ${compact(meter(s.inserted))}/s`;
    },
  });
  await stream.run({
    stop,
    exitWhenIdleMs: config.exitWhenIdle === undefined ? undefined : config.exitWhenIdle * 1000,
  });

  // Shutdown in flow order: input (and what the writers hold), then the outputs.
  const { failed, abandoned } = await stream.close();
  await deadLetters.close();
  await admin.close().catch(() => {});
  destination.close();
  await metricsServer?.shutdown();
  progress.stop();
  const s = stream.stats;
  log.info(
    "Stopped: {consumed} consumed, {inserted} inserted, {dlq} dead-lettered, {retries} retries",
    {
      consumed: s.consumed,
      inserted: s.inserted,
      dlq: JSON.stringify(s.deadLettered),
      retries: s.retries,
      skipped: s.skipped,
      rewritten: s.rewritten,
    },
  );
  if (abandoned) {
    log.error(
      "Stopped before BigQuery took every row read; those rows were not committed and will be read again",
    );
  }
  await stopLogging();
  return failed || abandoned ? 1 : 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    log.fatal("Consumer failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
