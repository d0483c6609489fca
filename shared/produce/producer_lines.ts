/**
 * What the producer tells its operator: each delivery in the delivery log, a
 * warning per retried attempt, a progress line while it runs, the one line
 * it stops with when Kafka refuses its events for good, and the run's
 * summary.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { SongCompleted } from "../event.ts";
import { isTransientKafkaError, kafkaErrorType, type Publisher } from "../kafka/mod.ts";
import { compact, logger, rateMeter, startProgress } from "../ops/mod.ts";
import type { EventMessage, ProduceStats } from "./produce_events.ts";

const log = logger("producer");
const deliveries = logger("producer", "deliveries");

/**
 * Sends a batch with `publisher` to `topic` and writes its partitions and
 * offsets to the delivery log (category `producer.deliveries`).
 */
export function deliverTo(
  publisher: Pick<Publisher, "send">,
  topic: string,
): (messages: EventMessage[], signal: AbortSignal) => Promise<void> {
  return async (messages, signal) => {
    const results = await publisher.send(topic, messages, { signal });
    deliveries.info("Delivered {count} events to {topic}", {
      count: messages.length,
      topic,
      offsets: results.map((r) => `${r.partition}@${r.baseOffset}`).join(","),
    });
  };
}

/** The producer's progress line, fed by `produceEvents`' callbacks. */
export interface ProducerProgress {
  onDelivered(events: SongCompleted[]): void;
  /** Counts a failed attempt and warns that it is retried. */
  onError(error: unknown, attempt: number, delayMs: number): void;
  stop(): void;
}

/**
 * The producer's progress line for a run of `count` events (0: until
 * stopped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { producerLine } from "./producer_lines.ts";
 * assert.equal(producerLine(1_500, 2, 0, 250), "producer: sent 1500 | 250/s | errors 2");
 * ```
 */
export function producerLine(sent: number, errors: number, count: number, rate: number): string {
  return `producer: sent ${compact(sent)}${count ? `/${compact(count)}` : ""}` +
    ` | ${compact(rate)}/s | errors ${errors}`;
}

/** Starts the progress line of a run of `count` events (0: until stopped). */
export function startProducerProgress(count: number): ProducerProgress {
  let sent = 0;
  let errors = 0;
  const meter = rateMeter();
  const progress = startProgress({ render: () => producerLine(sent, errors, count, meter(sent)) });
  return {
    onDelivered: (events) => void (sent += events.length),
    onError: (error, attempt, delayMs) => {
      errors++;
      log.warn("Delivery failed, retrying in {delayMs} ms (attempt {attempt}): {error}", {
        delayMs,
        attempt,
        error: errorMessage(error),
      });
    },
    stop: () => progress.stop(),
  };
}

/**
 * The error a run stops with: one that would fail the same way again (too
 * large, not allowed, no such topic) says so, once, naming the topic; any
 * other is returned as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusedForGood } from "./producer_lines.ts";
 * const denied = Object.assign(new Error("Not authorized"), { type: "TOPIC_AUTHORIZATION_FAILED" });
 * const error = refusedForGood(denied, "plays");
 * assert.ok(error instanceof Error);
 * assert.equal(
 *   error.message,
 *   "Kafka refuses events for plays (TOPIC_AUTHORIZATION_FAILED): Not authorized; not retried",
 * );
 * const late = Object.assign(new Error("No leader"), { type: "LEADER_NOT_AVAILABLE" });
 * assert.equal(refusedForGood(late, "plays"), late);
 * ```
 */
export function refusedForGood(error: unknown, topic: string): unknown {
  if (isTransientKafkaError(error)) return error;
  const type = kafkaErrorType(error);
  return new Error(
    `Kafka refuses events for ${topic}${type ? ` (${type})` : ""}: ` +
      `${errorMessage(error)}; not retried`,
  );
}

/** Logs a run's counts and its rate over `seconds` (first event generated to last acknowledged). */
export function logProduced(stats: ProduceStats, seconds: number): void {
  log.info(
    "Stopped: {sent} events delivered, {errors} failed attempts retried, {unsent} undelivered" +
      " in {seconds} s ({rate} events/s)",
    {
      ...stats,
      seconds: seconds.toFixed(3),
      rate: seconds > 0 ? Math.round(stats.sent / seconds) : 0,
    },
  );
}
