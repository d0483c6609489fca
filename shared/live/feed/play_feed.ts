/**
 * The dashboard's input: reads the plays topic from given offsets (the
 * anchors: the BigQuery consumer's committed offsets, below which BigQuery
 * holds the plays), parses each message with the one boundary parser, and
 * feeds the windowed counter. Invalid messages are skipped and counted;
 * tutorial-format events get the same derived id as in the consumer (it
 * depends only on topic, partition and offset).
 *
 * It keeps the next offset of every partition, so each offset is applied
 * once, also when the Kafka client restarts (it seeks back to where it
 * was), and it notes whether it read every offset from its anchors on and
 * the earliest event time it read: what re-anchoring needs to ask BigQuery
 * only for what changed.
 *
 * @module
 */

import { decodeEvent, DEFAULT_MAX_FUTURE_MS, EventError } from "../../event.ts";
import { parseEventTime } from "../../event_time.ts";
import { errorMessage } from "../../errors.ts";
import { createAdmin, createSource, type KafkaClient, type Source } from "../../kafka/mod.ts";
import { sleep } from "../../ops/mod.ts";
import type { PartitionAnchor } from "./anchors.ts";
import type { PlayCounter } from "../counting/mod.ts";

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
  /** Whether everything present when the feed was anchored has been read. */
  caughtUp: boolean;
  /** Wall time of the latest message read (ms), if any. */
  lastReadAt: number | undefined;
  /** Earliest event time read (ms), if any event was. */
  minEventAt: number | undefined;
  /** Whether every offset from the anchors on was read (no gap, e.g. from retention). */
  contiguous: boolean;
}

/** Result of {@linkcode applyMessages}. */
export interface Applied {
  counted: number;
  duplicates: number;
  late: number;
  /** Earliest event time among the valid events (ms), if any. */
  minEventAt: number | undefined;
  /** Messages that are not valid events, with their offsets. */
  invalid: { offset: string; error: EventError }[];
}

/** Options of {@linkcode applyMessages}. */
export interface ApplyOptions {
  /** The reader's wall time (default: now). */
  now?: number;
  /** How far ahead of the clock an event time may be (default 5 minutes). */
  maxFutureMs?: number;
}

/**
 * Parses `messages` read from `topic`/`partition` and adds them to `counter`.
 * An event time too far ahead of the clock (`checkEventTime`, the consumer's
 * rule) makes the message invalid: it is not counted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyMessages } from "./play_feed.ts";
 * import { createPlayCounter } from "../counting/mod.ts";
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
  options: ApplyOptions = {},
): Applied {
  const now = options.now ?? Date.now();
  const maxFutureMs = options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const applied: Applied = {
    counted: 0,
    duplicates: 0,
    late: 0,
    minEventAt: undefined,
    invalid: [],
  };
  for (const message of messages) {
    let event;
    try {
      event = decodeEvent(
        message.value,
        { topic, partition, offset: message.offset },
        { now, producedAt: message.timestamp, maxFutureMs },
      );
    } catch (error) {
      if (!(error instanceof EventError)) throw error;
      applied.invalid.push({ offset: message.offset, error });
      continue;
    }
    const time = parseEventTime(event.timestamp);
    if (applied.minEventAt === undefined || time < applied.minEventAt) applied.minEventAt = time;
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
  /** Where each partition is read from (`start`) and what counts as caught up (`end`). */
  anchors: readonly PartitionAnchor[];
  /** Prefix of the feed's throwaway group id (default `livecharts-dashboard`). */
  groupPrefix?: string;
  /** Read only these partitions (a shard); default all. */
  partitions?: readonly number[];
  /** Called once everything present when anchored was read. */
  onCaughtUp?: (stats: FeedStats) => void;
  /** Called for each invalid message. */
  onInvalid?: (error: EventError, partition: number, offset: string) => void;
  /** Called when the Kafka client gave up (the feed starts a new one from where it was). */
  onCrash?: (error: unknown) => void;
  /** Called when a new client reads again after a crash. */
  onRecovered?: () => void;
  /** How far ahead of the clock an event time may be (default 5 minutes). */
  maxFutureMs?: number;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
}

/** A running feed. */
export interface PlayFeed {
  readonly stats: FeedStats;
  /** Next offset to read in `partition` (undefined for a partition it never saw). */
  position(partition: number): bigint | undefined;
  /** Why the feed is not reading now (its Kafka client failed), or undefined. */
  readonly problem: string | undefined;
  /** Stops reading and removes the throwaway group. */
  stop(): Promise<void>;
}

/**
 * Starts reading `topic` from `anchors` into `counter`; resolves once the
 * Kafka client runs (rejects when it cannot start, e.g. Kafka is down).
 */
export async function startPlayFeed(
  kafka: KafkaClient,
  options: PlayFeedOptions,
): Promise<PlayFeed> {
  const { topic, counter } = options;
  const now = options.now ?? Date.now;
  const stats: FeedStats = {
    read: 0,
    invalid: 0,
    caughtUp: false,
    lastReadAt: undefined,
    minEventAt: undefined,
    contiguous: true,
  };
  const next = new Map(options.anchors.map((anchor) => [anchor.partition, anchor.start]));
  const ends = new Map(options.anchors.map((anchor) => [anchor.partition, anchor.end]));
  let source: Source | undefined;
  let group = "";
  let problem: string | undefined;
  let stopped = false;
  const halt = new AbortController();
  let restarting: Promise<void> | undefined;

  function checkCaughtUp(): void {
    if (stats.caughtUp) return;
    for (const [partition, end] of ends) {
      if ((next.get(partition) ?? end) < end) return;
    }
    stats.caughtUp = true;
    options.onCaughtUp?.(stats);
  }

  function handle(partition: number, messages: readonly FeedMessage[]): void {
    const expected = next.get(partition);
    // Offsets below the position were applied already (a client that
    // restarted, or a fetch that began before the seek took effect).
    const fresh = expected === undefined
      ? messages
      : messages.filter((message) => BigInt(message.offset) >= expected);
    const first = fresh[0];
    const last = fresh[fresh.length - 1];
    if (first === undefined || last === undefined) return;
    if (expected !== undefined && BigInt(first.offset) > expected) stats.contiguous = false;
    const applied = applyMessages(counter, topic, partition, fresh, {
      now: now(),
      ...(options.maxFutureMs === undefined ? {} : { maxFutureMs: options.maxFutureMs }),
    });
    stats.read += fresh.length;
    stats.invalid += applied.invalid.length;
    stats.lastReadAt = now();
    if (
      applied.minEventAt !== undefined &&
      (stats.minEventAt === undefined || applied.minEventAt < stats.minEventAt)
    ) {
      stats.minEventAt = applied.minEventAt;
    }
    counter.advance(now());
    for (const { offset, error } of applied.invalid) options.onInvalid?.(error, partition, offset);
    next.set(partition, BigInt(last.offset) + 1n);
    checkCaughtUp();
  }

  async function removeGroup(id: string): Promise<void> {
    const admin = createAdmin(kafka);
    await admin.deleteGroups([id]).catch(() => {});
    await admin.close().catch(() => {});
  }

  async function open(): Promise<void> {
    group = `${options.groupPrefix ?? "livecharts-dashboard"}-${crypto.randomUUID()}`;
    const client = createSource(kafka, {
      topic,
      group,
      maxWaitMs: 100,
      // Small fetches keep memory flat whatever is waiting in the topic.
      maxBytes: 1_048_576,
      maxBytesPerPartition: 524_288,
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    });
    client.onAssigned((partitions) => {
      for (const partition of partitions) {
        const at = next.get(partition);
        if (at !== undefined) client.seek(partition, at);
      }
      if (problem !== undefined) {
        problem = undefined;
        options.onRecovered?.();
      }
    });
    client.onCrash((error, restartingItself) => {
      if (restartingItself || stopped) return;
      problem = `Kafka reader stopped: ${errorMessage(error)}; restarting`;
      options.onCrash?.(error);
      restarting ??= restart().finally(() => (restarting = undefined));
    });
    source = client;
    await client.run((batch) => {
      handle(batch.partition, batch.messages);
      return Promise.resolve();
    });
  }

  async function restart(): Promise<void> {
    for (let attempt = 1; !stopped; attempt++) {
      const old = source;
      const oldGroup = group;
      source = undefined;
      await old?.stop().catch(() => {});
      if (oldGroup !== "") await removeGroup(oldGroup);
      if (stopped) return;
      try {
        await open();
        return;
      } catch (error) {
        problem = `Kafka reader cannot restart: ${errorMessage(error)}; retrying`;
        await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5)), halt.signal);
      }
    }
  }

  try {
    await open();
  } catch (error) {
    await source?.stop().catch(() => {});
    await removeGroup(group);
    throw error;
  }
  checkCaughtUp();
  return {
    stats,
    position: (partition) => next.get(partition),
    get problem() {
      return problem;
    },
    async stop() {
      stopped = true;
      halt.abort();
      await restarting;
      await source?.stop().catch(() => {});
      await removeGroup(group);
    },
  };
}
