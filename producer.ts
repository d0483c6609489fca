/**
 * `deno task produce`: simulated listeners emitting `song_completed` events
 * into Kafka.
 *
 * @module
 */

import { deadlineAfter, errorMessage, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { kafkaOptions, partitionsOption } from "./shared/cli/mod.ts";
import { createKafka, createProducer, ensureTopic, publish } from "./shared/kafka/mod.ts";
import { logger, logLevelOption, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import { decimal, integer, optional, text } from "./shared/cli/mod.ts";
import { produceEvents } from "./shared/produce/mod.ts";
import { compact, rateMeter, startProgress } from "./shared/ops/mod.ts";
import { createSimulator } from "./shared/produce/mod.ts";

const options = {
  ...kafkaOptions,
  count: {
    flag: "count",
    arg: "N",
    help: "Events to send; 0 runs until Ctrl-C",
    fallback: 0,
    parse: integer(),
  },
  rate: {
    flag: "rate",
    arg: "R",
    help: "Events per second; 0 is as fast as possible",
    fallback: 5,
    parse: decimal(0),
  },
  artist: {
    flag: "artist",
    arg: "SLUG",
    help: "Only this artist (default: all, Tony Allen most played)",
    fallback: undefined,
    parse: text(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "an artist slug like tony-allen"),
  },
  seed: {
    flag: "seed",
    arg: "N",
    help: "Seed for a reproducible play sequence",
    fallback: undefined,
    parse: integer(0, 2 ** 32 - 1),
  },
  partitions: partitionsOption,
  batchSize: {
    flag: "batch-size",
    arg: "N",
    help: "Most events per Kafka request",
    fallback: 500,
    parse: integer(1, 100_000),
  },
  logFile: {
    flag: "log-file",
    arg: "FILE",
    help: "Delivery log",
    fallback: "producer.log",
    parse: optional,
  },
  logLevel: logLevelOption,
};

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task produce [options]",
    summary: "Simulated listeners sending song_completed events to Kafka.",
  }, options);
  try {
    await setupLogging({
      level: config.logLevel,
      file: config.logFile,
      fileOnly: [["producer", "deliveries"]],
    });
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    return 2;
  }
  const log = logger("producer");
  const deliveries = logger("producer", "deliveries");

  let next;
  try {
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
  const producer = createProducer(kafka);
  await producer.connect();
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

  let stats;
  // Time from the first event generated to the last acknowledged: the rate the
  // summary reports (process start, topic check and disconnect excluded).
  const started = performance.now();
  let elapsedMs = 0;
  try {
    stats = await produceEvents({
      next,
      count: config.count,
      rate: config.rate,
      batchSize: config.batchSize,
      signal: stop,
      deadline: deadlineAfter(stop, 15_000),
      send: async (messages) => {
        const results = await publish(producer, config.topic, messages);
        deliveries.info("Delivered {count} events to {topic}", {
          count: messages.length,
          topic: config.topic,
          offsets: results.map((r) => `${r.partition}@${r.baseOffset}`).join(","),
        });
      },
      onDelivered: (events) => {
        sent += events.length;
      },
      onError: (error, attempt, delayMs) => {
        errors++;
        log.warn("Delivery failed, retrying in {delayMs} ms (attempt {attempt}): {error}", {
          delayMs,
          attempt,
          error: errorMessage(error),
        });
      },
    });
    elapsedMs = performance.now() - started;
  } finally {
    progress.stop();
    await producer.disconnect();
  }
  log.info(
    "Stopped: {sent} events delivered, {errors} failed attempts retried, {unsent} undelivered" +
      " in {seconds} s ({rate} events/s)",
    {
      ...stats,
      seconds: (elapsedMs / 1000).toFixed(3),
      rate: elapsedMs > 0 ? Math.round((stats.sent * 1000) / elapsedMs) : 0,
    },
  );
  await stopLogging();
  return stats.unsent > 0 ? 1 : 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    logger("producer").fatal("Producer failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
