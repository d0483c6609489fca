/**
 * `deno task consume`: streams `song_completed` events from Kafka into
 * BigQuery, at least once, with a dead-letter topic for what cannot be stored.
 *
 * Flow: Kafka topic → decode → batch → BigQuery insertAll (+ DLQ) → commit.
 * Shutdown goes the same way: stop fetching, flush, commit, disconnect.
 *
 * @module
 */

import {
  bigqueryOptions,
  ensurePlaysTable,
  insertRows,
  isTransientBigQueryError,
  openWarehouse,
} from "./shared/bigquery/mod.ts";
import {
  deadlineAfter,
  errorMessage,
  optional,
  parseArgsOrExit,
  shutdownSignal,
} from "./shared/cli/mod.ts";
import {
  createKafka,
  createSource,
  ensureTopic,
  groupOptions,
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
  retry,
  serveMetrics,
  setupLogging,
  startProgress,
  stopLogging,
} from "./shared/ops/mod.ts";
import {
  batchOptions,
  createConsumerMetrics,
  createSinkStream,
  exitWhenIdleOption,
} from "./shared/sink/mod.ts";

/** Dead letters carry a whole source message plus headers: allow more than 1 MB. */
const DLQ_TOPIC_CONFIG = { "max.message.bytes": String(4 * 1024 * 1024) };

/** The options of this script (the launcher derives its grants from them). */
export const options = {
  ...kafkaOptions,
  ...groupOptions,
  ...bigqueryOptions,
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
  const config = parseArgsOrExit({
    usage: "deno task consume [options]",
    summary:
      "Streams song_completed events from Kafka into BigQuery (at least once, with a dead-letter topic).",
  }, options);
  await setupLogging({ level: config.logLevel, file: config.logFile });
  const stop = shutdownSignal((name) =>
    log.info("Received {signal}: finishing the batch in flight", { signal: name })
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
  const warehouse = openWarehouse(config);
  await retry(() => ensurePlaysTable(warehouse), {
    isTransient: isTransientBigQueryError,
    signal: stop,
    onRetry: (error, attempt, delayMs) =>
      log.warn("BigQuery not ready ({error}); retrying in {delayMs} ms", {
        error: errorMessage(error),
        attempt,
        delayMs,
      }),
  });
  log.info("Writing to {table} ({mode})", {
    table: `${config.project}.${config.dataset}.${config.table}`,
    mode: warehouse.mode,
  });
  const kafka = createKafka({ ...config, clientId: "livecharts-consumer" });
  await ensureTopic(kafka, config.topic, config.partitions);
  await ensureTopic(kafka, config.dlqTopic, 1, DLQ_TOPIC_CONFIG);
  const deadLetters = await openPublisher(kafka);

  // Kafka → sink (decode, batch) → BigQuery + dead letters → commit.
  const stream = createSinkStream({
    source: createSource(kafka, {
      topic: config.topic,
      group: config.group,
      // Each fetch stays in memory until all of it is stored, so its size
      // bounds the consumer's memory when it catches up (~7,000 plays here).
      maxBytesPerPartition: 512 * 1024,
      maxBytes: 1536 * 1024,
      maxWaitMs: Math.max(100, Math.min(config.maxWaitMs, 1_000)),
      partitionsAtOnce: 8,
    }),
    ...config,
    write: (rows) => insertRows(warehouse.table, rows),
    isTransientWrite: isTransientBigQueryError,
    deadLetters,
    metrics,
    giveUp,
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

  // Shutdown in flow order: input (and the sink's batches in flight), then the outputs.
  const { failed, abandoned } = await stream.close();
  await deadLetters.close();
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
