/**
 * The dashboard's input: reads the plays topic from its earliest offset
 * (rebuilding all state on every start), parses each message with the one
 * boundary parser, and feeds the windowed counter. Invalid messages are
 * skipped and counted; tutorial-format events get the same derived id as in
 * the consumer (it depends only on topic, partition and offset).
 *
 * @module
 */

import { decodeEvent, EventError } from "../event.ts";
import { type KafkaClient, startTopicReader } from "../kafka/mod.ts";
import type { PlayCounter } from "./windows.ts";

/** A message as read from Kafka (the fields the feed uses). */
export interface FeedMessage {
  offset: string;
  value: Uint8Array | null;
  /** Record timestamp, ms since the epoch as text. */
  timestamp: string;
}

/** Counters of the feed. */
export interface FeedStats {
  /** Messages read. */
  read: number;
  /** Messages that are not valid events (skipped). */
  invalid: number;
  /** Whether everything present at start has been read. */
  caughtUp: boolean;
  /** Wall time of the latest message read (ms), if any. */
  lastReadAt: number | undefined;
}

/** Result of {@linkcode applyMessages}. */
export interface Applied {
  counted: number;
  duplicates: number;
  late: number;
  /** Messages that are not valid events, with their offsets. */
  invalid: { offset: string; error: EventError }[];
}

/**
 * Parses `messages` read from `topic`/`partition` and adds them to `counter`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyMessages } from "./play_feed.ts";
 * import { createPlayCounter } from "./windows.ts";
 * const counter = createPlayCounter();
 * const value = new TextEncoder().encode("not json");
 * const applied = applyMessages(counter, "plays", 0, [{ offset: "0", value, timestamp: "0" }]);
 * assert.equal(applied.invalid.length, 1);
 * ```
 */
export function applyMessages(
  counter: PlayCounter,
  topic: string,
  partition: number,
  messages: readonly FeedMessage[],
): Applied {
  const applied: Applied = { counted: 0, duplicates: 0, late: 0, invalid: [] };
  for (const message of messages) {
    let event;
    try {
      event = decodeEvent(message.value, { topic, partition, offset: message.offset });
    } catch (error) {
      if (!(error instanceof EventError)) throw error;
      applied.invalid.push({ offset: message.offset, error });
      continue;
    }
    const readAt = Number(message.timestamp);
    const result = counter.add(event, Number.isFinite(readAt) && readAt > 0 ? readAt : undefined);
    if (result === "counted") applied.counted++;
    else if (result === "duplicate") applied.duplicates++;
    else applied.late++;
  }
  return applied;
}

/** Options of {@linkcode startPlayFeed}. */
export interface PlayFeedOptions {
  topic: string;
  counter: PlayCounter;
  /** Called after each batch that changed the counts. */
  onChange?: () => void;
  /** Called once everything present at start was read. */
  onCaughtUp?: (stats: FeedStats) => void;
  /** Called for each invalid message. */
  onInvalid?: (error: EventError, partition: number, offset: string) => void;
  /** Called when the Kafka client gave up. */
  onCrash?: (error: unknown) => void;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
}

/** A running feed. */
export interface PlayFeed {
  readonly stats: FeedStats;
  stop(): Promise<void>;
}

/** Starts reading `topic` into `counter`. */
export async function startPlayFeed(
  kafka: KafkaClient,
  options: PlayFeedOptions,
): Promise<PlayFeed> {
  const now = options.now ?? Date.now;
  const stats: FeedStats = { read: 0, invalid: 0, caughtUp: false, lastReadAt: undefined };
  const next = new Map<number, bigint>();
  // Partitions not read to their end-at-start yet; filled once the reader runs.
  const pending = new Map<number, { low: bigint; high: bigint }>();
  let started = false;

  function checkCaughtUp(): void {
    if (stats.caughtUp || !started) return;
    for (const [partition, { low, high }] of pending) {
      if (high <= low || (next.get(partition) ?? low) >= high) pending.delete(partition);
    }
    if (pending.size === 0) {
      stats.caughtUp = true;
      options.onCaughtUp?.(stats);
    }
  }

  const reader = await startTopicReader(kafka, {
    topic: options.topic,
    groupPrefix: "livecharts-dashboard",
    ...(options.onCrash === undefined ? {} : { onCrash: options.onCrash }),
    onBatch: (partition, messages) => {
      const applied = applyMessages(options.counter, options.topic, partition, messages);
      stats.read += messages.length;
      stats.invalid += applied.invalid.length;
      stats.lastReadAt = now();
      options.counter.advance(now());
      for (const { offset, error } of applied.invalid) {
        options.onInvalid?.(error, partition, offset);
      }
      const last = messages[messages.length - 1];
      if (last !== undefined) next.set(partition, BigInt(last.offset) + 1n);
      if (applied.counted + applied.late > 0) options.onChange?.();
      checkCaughtUp();
    },
  });
  for (const [partition, offsets] of reader.offsetsAtStart) pending.set(partition, offsets);
  started = true;
  checkCaughtUp();
  return { stats, stop: () => reader.stop() };
}
