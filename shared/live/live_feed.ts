/**
 * The dashboard's input, kept running: a play feed that is started again
 * after its Kafka client gave up, and retried while Kafka is not reachable
 * yet. Each start replays the topic from its earliest offset into the same
 * counter, which counts each play once.
 *
 * @module
 */

import { errorMessage } from "../cli/mod.ts";
import { ensureTopic, type KafkaClient } from "../kafka/mod.ts";
import { logger, sleep } from "../ops/mod.ts";
import { type FeedStats, type PlayFeed, startPlayFeed } from "./play_feed.ts";
import type { PlayCounter } from "./windows.ts";

const log = logger("dashboard");

/** Options of {@linkcode createLiveFeed}. */
export interface LiveFeedOptions {
  topic: string;
  /** Partitions of the topic if it has to be created. */
  partitions: number;
  counter: PlayCounter;
}

/** A play feed kept running. */
export interface LiveFeed {
  /** Counters of the current feed; undefined while none runs. */
  readonly stats: FeedStats | undefined;
  /** Whether the current feed has read everything present when it started. */
  isLive(): boolean;
  /** Starts the feed and keeps it running until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Stops the current feed. */
  stop(): Promise<void>;
}

/** Creates the feed; nothing is read before {@linkcode LiveFeed.run}. */
export function createLiveFeed(kafka: KafkaClient, options: LiveFeedOptions): LiveFeed {
  const { topic, counter } = options;
  let feed: PlayFeed | undefined;
  let crashed = false;
  let invalidLogged = 0;

  async function start(): Promise<PlayFeed> {
    const replayStarted = Date.now();
    await ensureTopic(kafka, topic, options.partitions);
    return await startPlayFeed(kafka, {
      topic,
      counter,
      onCaughtUp: (stats) =>
        log.info("Caught up: {read} messages replayed in {seconds} s ({invalid} invalid)", {
          read: stats.read,
          invalid: stats.invalid,
          seconds: ((Date.now() - replayStarted) / 1000).toFixed(1),
          ...counter.stats,
        }),
      onInvalid: (error, partition, offset) => {
        if (invalidLogged++ < 5) {
          log.warn("Skipping message {partition}@{offset}: {error}", {
            partition,
            offset,
            error: error.message,
          });
        }
      },
      onCrash: (error) => {
        log.error("Kafka reader stopped: {error}; restarting", { error: errorMessage(error) });
        crashed = true;
      },
    });
  }

  return {
    get stats() {
      return feed?.stats;
    },
    isLive: () => feed?.stats.caughtUp ?? false,
    async run(signal) {
      log.info("Reading {topic} from the earliest offset", { topic });
      while (!signal.aborted) {
        if (feed === undefined || crashed) {
          const old = feed;
          feed = undefined;
          crashed = false;
          await old?.stop().catch(() => {});
          try {
            feed = await start();
          } catch (error) {
            log.warn("Kafka not ready ({error}); retrying in 3 s", { error: errorMessage(error) });
            await sleep(3_000, signal);
            continue;
          }
        }
        await sleep(500, signal);
      }
    },
    async stop() {
      await feed?.stop().catch(() => {});
    },
  };
}
