/**
 * `deno task produce`: simulated listeners emitting `song_completed` events
 * into Kafka.
 *
 * Flow: simulator → batches keyed by song → Kafka publisher (acks from all
 * replicas, idempotent) → delivery log.
 *
 * @module
 */

import { deadlineAfter, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { errorMessage } from "./shared/errors.ts";
import {
  createKafka,
  ensureTopic,
  installKafkaPatches,
  isTransientKafkaError,
  openPublisher,
} from "./shared/kafka/mod.ts";
import { logFatal, logger, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import {
  createSimulator,
  deliverTo,
  generateCatalog,
  logProduced,
  produceEvents,
  refusedForGood,
  startProducerProgress,
} from "./shared/produce/mod.ts";
import { producerOptions } from "./shared/tables/mod.ts";

/** The options of this script (`shared/tables/`, where the launcher reads them). */
export const options = producerOptions;

const log = logger("producer");

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
    next = createSimulator({
      artist: config.artist,
      seed: config.seed,
      spreadMs: config.spread,
      ...(config.catalogArtists === undefined ? {} : {
        catalog: generateCatalog({
          artists: config.catalogArtists,
          songsPerArtist: config.catalogSongsPerArtist,
        }),
      }),
    });
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
  const progress = startProducerProgress(config.count);

  // Simulator → batches keyed by song → Kafka. Broker and network trouble is
  // retried; an error that would fail the same way again stops the run. The
  // rate is timed from the first event generated to the last acknowledged.
  const started = performance.now();
  let stats;
  let seconds = 0;
  try {
    stats = await produceEvents({
      next,
      count: config.count,
      rate: config.rate,
      batchSize: config.batchSize,
      keyBy: config.keyBy,
      signal: stop,
      deadline: deadlineAfter(stop, 15_000),
      isTransient: isTransientKafkaError,
      send: deliverTo(publisher, config.topic),
      onDelivered: progress.onDelivered,
      onError: progress.onError,
    });
    seconds = (performance.now() - started) / 1000;
  } catch (error) {
    throw refusedForGood(error, config.topic);
  } finally {
    // Shutdown in flow order: the simulator stopped above, then the publisher.
    progress.stop();
    await publisher.close();
  }
  logProduced(stats, seconds);
  await stopLogging();
  return stats.unsent > 0 ? 1 : 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    await logFatal(log, "Producer failed: {error}", { error: errorMessage(error) });
    Deno.exit(1);
  });
}
