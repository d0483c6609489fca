/**
 * `deno task produce`: simulated listeners emitting `song_completed` events
 * into Kafka.
 *
 * Flow: simulator → batches keyed by song → Kafka publisher (acks from all
 * replicas, idempotent) → delivery log.
 *
 * @module
 */

import { errorMessage } from "./shared/errors.ts";
import { deadlineAfter, optional, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import {
  createKafka,
  ensureTopic,
  installKafkaPatches,
  isTransientKafkaError,
  kafkaErrorType,
  kafkaOptions,
  openPublisher,
  partitionsOption,
} from "./shared/kafka/mod.ts";
import {
  compact,
  logger,
  logLevelOption,
  rateMeter,
  setupLogging,
  startProgress,
  stopLogging,
} from "./shared/ops/mod.ts";
import { createSimulator, produceEvents, produceOptions } from "./shared/produce/mod.ts";

/** The options of this script (the launcher derives its grants from them). */
export const options = {
  ...kafkaOptions,
  ...produceOptions,
  partitions: partitionsOption,
  logFile: {
    flag: "log-file",
    arg: "FILE",
    help: "Delivery log",
    fallback: "producer.log",
    parse: optional,
    grant: "write" as const,
  },
  logLevel: logLevelOption,
};

const log = logger("producer");
const deliveries = logger("producer", "deliveries");

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task produce [options]",
    summary: "Simulated listeners sending song_completed events to Kafka.",
  }, options);
  let next;
  try {
    await setupLogging({
      level: config.logLevel,
      file: config.logFile,
      fileOnly: [["producer", "deliveries"]],
    });
    next = createSimulator({ artist: config.artist, seed: config.seed });
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    return 2;
  }
  const stop = shutdownSignal((name) =>
    log.info("Received {signal}: flushing and stopping", { signal: name })
  );

  const kafka = createKafka({ ...config, clientId: "livecharts-producer" });
  await ensureTopic(kafka, config.topic, config.partitions);
  const publisher = await openPublisher(kafka);
  log.info("Producing to {topic} on {brokers}", {
    topic: config.topic,
    brokers: config.brokers.join(","),
    rate: config.rate,
    count: config.count,
  });
  let sent = 0;
  let errors = 0;
  const meter = rateMeter();
  const progress = startProgress({
    render: () =>
      `producer: sent ${compact(sent)}${config.count ? `/${compact(config.count)}` : ""}` +
      ` | ${compact(meter(sent))}/s | errors ${errors}`,
  });

  // Time from the first event generated to the last acknowledged: the rate the
  // summary reports (process start, topic check and disconnect excluded).
  const started = performance.now();
  let stats;
  let seconds = 0;
  const deadline = deadlineAfter(stop, 15_000);
  try {
    stats = await produceEvents({
      next,
      count: config.count,
      rate: config.rate,
      batchSize: config.batchSize,
      signal: stop,
      deadline,
      // Broker and network trouble is retried; an error that would fail the
      // same way again (too large, not allowed, no such topic) stops the run.
      isTransient: isTransientKafkaError,
      send: async (messages, signal) => {
        const results = await publisher.send(config.topic, messages, { signal });
        deliveries.info("Delivered {count} events to {topic}", {
          count: messages.length,
          topic: config.topic,
          offsets: results.map((r) => `${r.partition}@${r.baseOffset}`).join(","),
        });
      },
      onDelivered: (events) => void (sent += events.length),
      onError: (error, attempt, delayMs) => {
        errors++;
        log.warn("Delivery failed, retrying in {delayMs} ms (attempt {attempt}): {error}", {
          delayMs,
          attempt,
          error: errorMessage(error),
        });
      },
    });
    seconds = (performance.now() - started) / 1000;
  } catch (error) {
    // Only errors that would fail the same way again get here (the others
    // are retried): say which, once, and stop.
    if (isTransientKafkaError(error)) throw error;
    const type = kafkaErrorType(error);
    throw new Error(
      `Kafka refuses events for ${config.topic}${type ? ` (${type})` : ""}: ` +
        `${errorMessage(error)}; not retried`,
    );
  } finally {
    // Shutdown in flow order: the simulator stopped above, then the publisher.
    progress.stop();
    await publisher.close();
  }
  log.info(
    "Stopped: {sent} events delivered, {errors} failed attempts retried, {unsent} undelivered" +
      " in {seconds} s ({rate} events/s)",
    {
      ...stats,
      seconds: seconds.toFixed(3),
      rate: seconds > 0 ? Math.round(stats.sent / seconds) : 0,
    },
  );
  await stopLogging();
  return stats.unsent > 0 ? 1 : 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    log.fatal("Producer failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
