/**
 * The consumer's pipeline: a Kafka source feeding the sink, which writes
 * rows and publishes dead letters; each batch is committed only once all of
 * it is stored. Fetching pauses while writes are retried, and the group
 * membership is kept alive meanwhile.
 *
 * @module
 */

import { errorMessage } from "../cli/mod.ts";
import { isKafkaError, isTransientKafkaError, type Publisher, type Source } from "../kafka/mod.ts";
import { logger, sleep } from "../ops/mod.ts";
import type { ConsumerMetrics } from "./metrics.ts";
import { createSink, type SinkOptions, type SinkStats } from "./sink.ts";

const log = logger("consumer");

/** Options of {@linkcode createSinkStream}. */
export interface SinkStreamOptions
  extends Pick<SinkOptions, "maxRows" | "maxBytes" | "maxWaitMs" | "concurrency" | "write"> {
  /** Where messages come from. */
  source: Source;
  /** Where dead letters go, and to which topic. */
  deadLetters: Publisher;
  dlqTopic: string;
  /** Whether a write error is worth retrying (dead-letter errors are Kafka's to judge). */
  isTransientWrite: (error: unknown) => boolean;
  metrics: ConsumerMetrics;
  /** Gives up retrying writes (a shutdown deadline). */
  giveUp: AbortSignal;
}

/** Options of {@linkcode SinkStream.run}. */
export interface RunOptions {
  /** Stops reading: the batch in flight is flushed at once. */
  stop: AbortSignal;
  /** Return once caught up and idle this long (default: only on `stop`). */
  exitWhenIdleMs?: number | undefined;
}

/** How a run ended. */
export interface StreamOutcome {
  /** The source's client failed for good. */
  failed: boolean;
  /** Stopped while rows read were still not stored (left uncommitted, read again next time). */
  abandoned: boolean;
}

/** The running pipeline. */
export interface SinkStream {
  readonly stats: SinkStats;
  /** Reads and stores until `stop`, a crash, or a quiet topic with `exitWhenIdleMs`. */
  run(options: RunOptions): Promise<void>;
  /** Stops the source once its batches in flight are stored, then drains the sink. */
  close(): Promise<StreamOutcome>;
}

/** Wires `source` into a new sink that writes rows and publishes dead letters. */
export function createSinkStream(options: SinkStreamOptions): SinkStream {
  const { source, metrics, giveUp } = options;
  let heartbeat: (() => Promise<void>) | undefined;
  let failed = false;
  let abandoned = false;
  const sink = createSink({
    topic: source.topic,
    maxRows: options.maxRows,
    maxBytes: options.maxBytes,
    maxWaitMs: options.maxWaitMs,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    signal: giveUp,
    write: options.write,
    publish: async (messages) => {
      await options.deadLetters.send(options.dlqTopic, messages);
    },
    isTransient: (error) =>
      isKafkaError(error) ? isTransientKafkaError(error) : options.isTransientWrite(error),
    heartbeat: () => heartbeat?.() ?? Promise.resolve(),
    onInsert: metrics.onInsert,
    onBackoff: (paused) => {
      if (paused) {
        log.warn("Pausing fetches until writes succeed again");
        source.pause();
      } else {
        log.info("Writes succeed again: resuming fetches");
        source.resume();
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

  async function run({ stop, exitWhenIdleMs }: RunOptions): Promise<void> {
    let lastMessageAt = Date.now();
    source.onAssigned((partitions) => {
      metrics.assigned(partitions);
      metrics.setUp(true);
    });
    source.onCrash((error, restarting) => {
      metrics.setUp(false);
      if (restarting) return;
      failed = true;
      log.error("Consumer crashed: {error}", { error: errorMessage(error) });
    });
    await source.run(async (batch, beat) => {
      heartbeat = beat;
      lastMessageAt = Date.now();
      const pending = sink.handle(batch.partition, batch.messages);
      // Stopping: write this batch now instead of when it would fill up.
      if (stop.aborted) await Promise.allSettled([pending, sink.drain()]);
      try {
        await pending;
      } catch (error) {
        // Shutting down with writes still failing: leave the batch uncommitted.
        if (giveUp.aborted) abandoned = true;
        throw error;
      }
      await source.commit(batch.partition, batch.nextOffset);
      metrics.committed(batch.partition, batch.highWatermark - batch.nextOffset);
      lastMessageAt = Date.now();
    });

    // Wait for a stop signal, a crash, or (with exitWhenIdleMs) a quiet, caught-up topic.
    while (!stop.aborted && !failed) {
      await sleep(250, stop);
      metrics.refreshLag(() => source.lag());
      if (exitWhenIdleMs === undefined || Date.now() - lastMessageAt < exitWhenIdleMs) continue;
      try {
        const behind = (await source.lag()).reduce((sum, p) => sum + p.lag, 0n);
        if (behind === 0n && Date.now() - lastMessageAt >= exitWhenIdleMs) {
          log.info("Caught up and idle for {seconds} s: stopping", {
            seconds: exitWhenIdleMs / 1000,
          });
          break;
        }
      } catch (error) {
        log.debug("Cannot read lag: {error}", { error: errorMessage(error) });
      }
    }
  }

  return {
    stats: sink.stats,
    run,
    async close() {
      metrics.setUp(false);
      await sink.drain();
      await source.stop();
      await sink.drain();
      return { failed, abandoned };
    },
  };
}
