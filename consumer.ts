/**
 * `deno task consume`: streams `song_completed` events from Kafka into
 * BigQuery, at least once, with a dead-letter topic for what cannot be stored.
 *
 * Flow: Kafka topic → decode → batch → BigQuery insertAll (+ DLQ) → commit.
 * Shutdown goes the same way: stop fetching, flush, commit, disconnect.
 *
 * @module
 */

import { deadlineAfter, errorMessage, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { bigqueryOptions, groupOptions, kafkaOptions, partitionsOption } from "./shared/cli/mod.ts";
import {
  ensurePlaysTable,
  insertRows,
  isTransientBigQueryError,
  openWarehouse,
} from "./shared/bigquery/mod.ts";
import {
  createConsumer,
  createKafka,
  createProducer,
  ensureTopic,
  groupLag,
  isKafkaError,
  isTransientKafkaError,
  publish,
} from "./shared/kafka/mod.ts";
import { logger, logLevelOption, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import { decimal, integer, optional } from "./shared/cli/mod.ts";
import { compact, rateMeter, startProgress } from "./shared/ops/mod.ts";
import { retry, sleep } from "./shared/ops/mod.ts";
import { createSink } from "./shared/sink/mod.ts";
import { createConsumerMetrics } from "./shared/sink/mod.ts";
import { healthOptions } from "./shared/ops/mod.ts";
import { metricsServerOptions, serveMetrics } from "./shared/ops/mod.ts";

/** Largest dead letter: a maximal source message plus generous headers. */
const DLQ_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const options = {
  ...kafkaOptions,
  ...groupOptions,
  ...bigqueryOptions,
  maxRows: {
    flag: "batch-rows",
    env: "BATCH_MAX_ROWS",
    arg: "N",
    help: "Flush a batch at this many rows",
    fallback: 500,
    parse: integer(1, 50_000),
  },
  maxBytes: {
    flag: "batch-bytes",
    env: "BATCH_MAX_BYTES",
    arg: "N",
    help: "Flush a batch at this many bytes",
    fallback: 5_000_000,
    parse: integer(1_000, 9_000_000),
  },
  maxWaitMs: {
    flag: "batch-wait-ms",
    env: "BATCH_MAX_WAIT_MS",
    arg: "MS",
    help: "Flush a batch after this long",
    // Short: no message arrives while a fetch's batches are stored (kafkajs
    // fetches again only once they are), so waiting longer only adds delay.
    fallback: 50,
    parse: integer(0, 60_000),
  },
  concurrency: {
    flag: "insert-concurrency",
    env: "INSERT_CONCURRENCY",
    arg: "N",
    help: "Batches written to BigQuery at once",
    fallback: 2,
    parse: integer(1, 64),
  },
  partitions: partitionsOption,
  exitWhenIdle: {
    flag: "exit-when-idle",
    arg: "SECONDS",
    help: "Exit 0 once caught up and idle this long (default: run until stopped)",
    fallback: undefined,
    parse: decimal(0),
  },
  ...metricsServerOptions,
  ...healthOptions,
  logFile: {
    flag: "log-file",
    arg: "FILE",
    help: "Also append logs to this file",
    fallback: undefined,
    parse: optional,
  },
  logLevel: logLevelOption,
};

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task consume [options]",
    summary:
      "Streams song_completed events from Kafka into BigQuery (at least once, with a dead-letter topic).",
  }, options);
  await setupLogging({ level: config.logLevel, file: config.logFile });
  const log = logger("consumer");
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
  // Dead letters carry a whole source message plus headers: allow more than 1 MB.
  await ensureTopic(kafka, config.dlqTopic, 1, {
    "max.message.bytes": String(DLQ_MAX_MESSAGE_BYTES),
  });
  const deadLetters = createProducer(kafka);
  await deadLetters.connect();
  const admin = kafka.admin();
  await admin.connect();
  const consumer = createConsumer(kafka, {
    groupId: config.group,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    // Each fetch stays in memory until all of it is stored, so its size
    // bounds the consumer's memory when it catches up (~7,000 plays here).
    maxBytesPerPartition: 512 * 1024,
    maxBytes: 1536 * 1024,
    maxWaitTimeInMs: Math.max(100, Math.min(config.maxWaitMs, 1_000)),
  });

  let heartbeat: (() => Promise<void>) | undefined;
  let lastMessageAt = Date.now();
  const sink = createSink({
    topic: config.topic,
    maxRows: config.maxRows,
    maxBytes: config.maxBytes,
    maxWaitMs: config.maxWaitMs,
    concurrency: config.concurrency,
    signal: giveUp,
    write: (rows) => insertRows(warehouse.table, rows),
    publish: async (messages) => {
      await publish(deadLetters, config.dlqTopic, messages);
    },
    isTransient: (error) =>
      isKafkaError(error) ? isTransientKafkaError(error) : isTransientBigQueryError(error),
    heartbeat: () => heartbeat?.() ?? Promise.resolve(),
    onInsert: metrics.onInsert,
    onBackoff: (paused) => {
      if (paused) {
        log.warn("Pausing fetches until writes succeed again");
        consumer.pause([{ topic: config.topic }]);
      } else {
        log.info("Writes succeed again: resuming fetches");
        consumer.resume([{ topic: config.topic }]);
      }
    },
    onRetry: (what, error, attempt, delayMs) => {
      metrics.retried(what);
      log.warn("Cannot {what} ({error}); retry {attempt} in {delayMs} ms", {
        what: what === "insert" ? "insert into BigQuery" : "publish dead letters",
        error: errorMessage(error),
        attempt,
        delayMs,
      });
    },
  });
  metrics.trackSink(sink.stats);

  const meter = rateMeter();
  const progress = startProgress({
    render: () => {
      const s = sink.stats;
      const dlq = s.deadLettered["invalid-json"] + s.deadLettered["invalid-event"] +
        s.deadLettered["rejected-by-bigquery"];
      const behind = metrics.totalLag();
      return `consumer: consumed ${compact(s.consumed)} | inserted ${compact(s.inserted)}` +
        ` | dlq ${dlq} | retries ${s.retries} | lag ${behind} | ${compact(meter(s.inserted))}/s`;
    },
  });

  await consumer.subscribe({ topic: config.topic, fromBeginning: true });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    metrics.assigned(payload.memberAssignment[config.topic] ?? []);
    metrics.setUp(true);
  });
  let failed: unknown;
  let abandoned = false;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    metrics.setUp(false);
    if (!payload.restart) {
      failed = payload.error;
      log.error("Consumer crashed: {error}", { error: errorMessage(payload.error) });
    }
  });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 8,
    eachBatch: async ({ batch, resolveOffset, heartbeat: beat }) => {
      if (batch.messages.length === 0) return;
      heartbeat = beat;
      lastMessageAt = Date.now();
      const pending = sink.handle(batch.partition, batch.messages);
      if (stop.aborted) sink.drain();
      try {
        await pending;
      } catch (error) {
        // Shutting down with writes still failing: leave the batch uncommitted.
        if (giveUp.aborted) abandoned = true;
        throw error;
      }
      const last = batch.messages[batch.messages.length - 1]!.offset;
      const next = (BigInt(last) + 1n).toString();
      await consumer.commitOffsets([{
        topic: batch.topic,
        partition: batch.partition,
        offset: next,
      }]);
      resolveOffset(last);
      metrics.committed(batch.partition, BigInt(batch.highWatermark) - BigInt(next));
      lastMessageAt = Date.now();
    },
  });

  // Wait for a stop signal, a crash, or (with --exit-when-idle) a quiet, caught-up topic.
  const idleMs = config.exitWhenIdle === undefined ? undefined : config.exitWhenIdle * 1000;
  while (!stop.aborted && failed === undefined) {
    await sleep(250, stop);
    metrics.refreshLag(() => groupLag(admin, config.group, config.topic));
    if (idleMs === undefined || Date.now() - lastMessageAt < idleMs) continue;
    try {
      const partitions = await groupLag(admin, config.group, config.topic);
      const behind = partitions.reduce((sum, p) => sum + p.lag, 0n);
      if (behind === 0n && Date.now() - lastMessageAt >= idleMs) {
        log.info("Caught up and idle for {seconds} s: stopping", { seconds: config.exitWhenIdle });
        break;
      }
    } catch (error) {
      log.debug("Cannot read lag: {error}", { error: errorMessage(error) });
    }
  }

  // Shutdown in flow order: input, then the stages after it.
  metrics.setUp(false);
  await sink.drain();
  await consumer.disconnect();
  await sink.drain();
  await deadLetters.disconnect();
  await admin.disconnect();
  await metricsServer?.shutdown();
  progress.stop();
  const s = sink.stats;
  log.info(
    "Stopped: {consumed} consumed, {inserted} inserted, {dlq} dead-lettered, {retries} retries",
    {
      consumed: s.consumed,
      inserted: s.inserted,
      dlq: JSON.stringify(s.deadLettered),
      retries: s.retries,
    },
  );
  await stopLogging();
  if (abandoned) {
    log.error(
      "Stopped before BigQuery took every row read; those rows were not committed and will be read again",
    );
  }
  return failed === undefined && !abandoned ? 0 : 1;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    logger("consumer").fatal("Consumer failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
