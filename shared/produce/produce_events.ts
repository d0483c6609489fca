/**
 * The producer loop: draws events from a simulator, paces them to a rate (or
 * as fast as the broker takes them), sends them in batches keyed by song (or
 * by artist, for dashboards sharded by partition), and
 * retries failed deliveries until they succeed or the run is stopped.
 *
 * @module
 */

import { encodeEvent, type SongCompleted } from "../event.ts";
import { type BackoffOptions, retry, sleep } from "../ops/mod.ts";
import { eventsDue, type Simulator } from "./simulator.ts";
import type { KeyBy } from "./options.ts";

/** A message as handed to the Kafka producer. */
export interface EventMessage {
  key: string;
  value: Uint8Array;
}

/** Counters of a producer run. */
export interface ProduceStats {
  /** Events acknowledged by Kafka. */
  sent: number;
  /** Failed delivery attempts (each was retried). */
  errors: number;
  /** Events generated but not acknowledged (only non-zero after a forced stop). */
  unsent: number;
}

/** Options of {@linkcode produceEvents}. */
export interface ProduceOptions {
  next: Simulator;
  /**
   * Sends one batch; resolves when Kafka acknowledged all of it. `signal`
   * aborts when waiting for it is pointless: the hard deadline passed, or
   * another batch failed for good (the run is ending).
   */
  send: (messages: EventMessage[], signal: AbortSignal) => Promise<void>;
  /** Events to send; 0 means until stopped. */
  count: number;
  /** Events per second; 0 means as fast as possible. */
  rate: number;
  /** Most events per send (default 4,000). */
  batchSize?: number;
  /** Sends in flight at once when unpaced (default 4). */
  concurrency?: number;
  /** Stops generating; in-flight sends finish (and keep retrying). */
  signal?: AbortSignal;
  /** Gives up in-flight sends and their retries (a hard deadline after `signal`). */
  deadline?: AbortSignal;
  isTransient?: (error: unknown) => boolean;
  onDelivered?: (events: SongCompleted[]) => void;
  onError?: (error: unknown, attempt: number, delayMs: number) => void;
  backoff?: BackoffOptions;
  /** What a message's key is made of (default `song`). */
  keyBy?: KeyBy;
}

/**
 * The Kafka message for an event: keyed by artist and song, or by artist
 * alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toMessage } from "./produce_events.ts";
 * const event = {
 *   user_id: 1, artist: "tony-allen", song_id: 3, song_name: "Asiko",
 *   event_type: "song_completed" as const, timestamp: "2026-12-06 10:00:00",
 *   event_id: "0b6c4d0e-8b7a-4c35-9a51-2f1f3c0f6a11",
 * };
 * assert.equal(toMessage(event).key, "tony-allen/3");
 * assert.equal(toMessage(event, "artist").key, "tony-allen");
 * ```
 */
export function toMessage(event: SongCompleted, keyBy: KeyBy = "song"): EventMessage {
  const key = keyBy === "artist" ? event.artist : `${event.artist}/${event.song_id}`;
  return { key, value: encodeEvent(event) };
}

/**
 * Runs the loop until `count` events were acknowledged or `signal` aborts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { produceEvents } from "./produce_events.ts";
 * import { createSimulator } from "./simulator.ts";
 * const stats = await produceEvents({
 *   next: createSimulator({ seed: 1 }), count: 10, rate: 0,
 *   send: () => Promise.resolve(),
 * });
 * assert.deepEqual(stats, { sent: 10, errors: 0, unsent: 0 });
 * ```
 */
export async function produceEvents(options: ProduceOptions): Promise<ProduceStats> {
  const stats: ProduceStats = { sent: 0, errors: 0, unsent: 0 };
  const batchSize = options.batchSize ?? 4_000;
  const keyBy = options.keyBy ?? "song";
  const concurrency = options.rate === 0 ? (options.concurrency ?? 4) : 64;
  const limit = options.count === 0 ? Number.POSITIVE_INFINITY : options.count;
  const inFlight = new Set<Promise<void>>();
  let generated = 0;
  let failure: unknown;
  // A batch that failed for good ends the run: the others stop waiting.
  const failed = new AbortController();
  const giveUp = options.deadline === undefined
    ? failed.signal
    : AbortSignal.any([options.deadline, failed.signal]);

  function dispatch(size: number): void {
    const events: SongCompleted[] = [];
    for (let i = 0; i < size; i++) events.push(options.next());
    generated += size;
    const messages = events.map((event) => toMessage(event, keyBy));
    const delivery = retry(() => options.send(messages, giveUp), {
      ...options.backoff,
      isTransient: options.isTransient ?? (() => true),
      signal: giveUp,
      onRetry: (error, attempt, delayMs) => {
        stats.errors++;
        options.onError?.(error, attempt, delayMs);
      },
    }).then(() => {
      stats.sent += size;
      options.onDelivered?.(events);
    }, (error) => {
      stats.unsent += size;
      failure ??= error;
      failed.abort();
    }).finally(() => inFlight.delete(delivery));
    inFlight.add(delivery);
  }

  const started = performance.now();
  while (generated < limit && !options.signal?.aborted && failure === undefined) {
    const due = Math.min(
      eventsDue(performance.now() - started, options.rate, generated),
      limit - generated,
    );
    if (due > 0 && inFlight.size < concurrency) {
      dispatch(Math.min(due, batchSize));
      continue;
    }
    if (inFlight.size >= concurrency) {
      await Promise.race(inFlight);
    } else {
      // Wait for the next event to become due (at most 50 ms at a time).
      const wait = Math.min(50, Math.max(1, 1000 / options.rate));
      await sleep(wait, options.signal);
    }
  }
  await Promise.all(inFlight);
  if (failure !== undefined && !options.deadline?.aborted) throw failure;
  return stats;
}
