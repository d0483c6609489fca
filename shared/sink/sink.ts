/**
 * The consumer's processing stage: decode each message, batch the good rows
 * into BigQuery, send everything that cannot be stored to the dead-letter
 * topic, and resolve only when all of it is durably somewhere.
 *
 * `handle()` resolves for a set of messages only after every row was
 * acknowledged by BigQuery and every dead letter by Kafka; the caller commits
 * offsets after that, and never before. Transient failures are retried with
 * capped exponential backoff while the caller pauses fetching.
 *
 * @module
 */

import { createBatcher, type FlushLimits } from "./batcher.ts";
import type { InsertRow, RejectedRow } from "../bigquery/mod.ts";
import {
  deadLetter,
  type DeadLetterKind,
  type Failure,
  type OutgoingMessage,
  type SourceMessage,
} from "../dlq/mod.ts";
import { decodeEvent, EventError, type SongCompleted } from "../event.ts";
import { type BackoffOptions, retry } from "../ops/mod.ts";
import { errorMessage } from "../cli/mod.ts";
import { toRow } from "../schema.ts";

/** Counters kept by the sink (all monotonic). */
export interface SinkStats {
  consumed: number;
  inserted: number;
  deadLettered: Record<DeadLetterKind, number>;
  retries: number;
  batches: number;
  /** Rows per flushed batch, latest first-in order (bounded sample). */
  lastBatchRows: number;
  /** Duration of the latest successful insert, in milliseconds. */
  lastInsertMs: number;
}

/** What the sink needs from the outside world. */
export interface SinkOptions extends FlushLimits {
  /** Source topic (part of derived ids and dead-letter headers). */
  topic: string;
  /** Inserts rows; resolves with rejected rows, throws when nothing is known written. */
  write: (rows: InsertRow[]) => Promise<RejectedRow[]>;
  /** Publishes dead letters; resolves once Kafka acknowledged them. */
  publish: (messages: OutgoingMessage[]) => Promise<void>;
  /** Whether a write/publish error is worth retrying. */
  isTransient: (error: unknown) => boolean;
  /** Called when a retry starts (pause fetching) and when writes work again. */
  onBackoff?: (paused: boolean) => void;
  /** Keeps group membership alive during long retries. */
  heartbeat?: () => Promise<void>;
  /** Called for each retry, for logs. */
  onRetry?: (
    what: "insert" | "dead-letter",
    error: unknown,
    attempt: number,
    delayMs: number,
  ) => void;
  /** Called after each successful insert, for metrics. */
  onInsert?: (rows: number, millis: number) => void;
  /** Aborting gives up retrying (used as a shutdown deadline). */
  signal?: AbortSignal;
  /** Batches written concurrently (default 1). */
  concurrency?: number;
  /** Backoff tuning. */
  backoff?: BackoffOptions;
  /** Ingestion time (default: now). */
  now?: () => Date;
}

/** A running sink. */
export interface Sink {
  /** Processes messages read from `partition`; resolves when all are stored. */
  handle(partition: number, messages: readonly SourceMessage[]): Promise<void>;
  /** Flushes what is queued now and waits for it. */
  drain(): Promise<void>;
  readonly stats: SinkStats;
}

/**
 * A message waiting for its batch. It is decoded, and its row built, only
 * when the batch is written: objects made just before the request die young,
 * while objects made for a whole fetch at once would survive the wait and be
 * promoted to the old generation (most of the consumer's memory and its
 * spikes when it catches up on a backlog).
 */
interface Item {
  message: SourceMessage;
  partition: number;
  ingestedAt: string;
  bytes: number;
}

/** An item whose message decoded to an event. */
interface Decoded {
  item: Item;
  event: SongCompleted;
}

/** The insertAll row of a decoded item: the event's id as `insertId`. */
function rowOf({ item, event }: Decoded): InsertRow {
  return {
    insertId: event.event_id,
    json: { ...toRow(event, item.partition, item.message.offset, item.ingestedAt) },
  };
}

/** Classifies a decoding error. */
export function failureOf(error: EventError): Failure {
  return {
    kind: error.field === undefined ? "invalid-json" : "invalid-event",
    reason: error.message,
    field: error.field,
  };
}

/**
 * Creates the sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSink } from "./sink.ts";
 * const stored: unknown[] = [];
 * const sink = createSink({
 *   topic: "plays", maxRows: 500, maxBytes: 1_000_000, maxWaitMs: 10,
 *   write: (rows) => { stored.push(...rows); return Promise.resolve([]); },
 *   publish: () => Promise.resolve(),
 *   isTransient: () => true,
 * });
 * const value = new TextEncoder().encode(JSON.stringify({
 *   event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a", user_id: 1, artist: "tony-allen",
 *   song_id: 1, song_name: "zombie", event_type: "song_completed",
 *   timestamp: "2026-11-24T19:00:00Z",
 * }));
 * await sink.handle(0, [{ key: null, value, offset: "5", timestamp: "0" }]);
 * assert.equal(stored.length, 1);
 * assert.equal(sink.stats.inserted, 1);
 * ```
 */
export function createSink(options: SinkOptions): Sink {
  const stats: SinkStats = {
    consumed: 0,
    inserted: 0,
    deadLettered: { "invalid-json": 0, "invalid-event": 0, "rejected-by-bigquery": 0 },
    retries: 0,
    batches: 0,
    lastBatchRows: 0,
    lastInsertMs: 0,
  };
  const now = options.now ?? (() => new Date());
  let backingOff = false;

  function persist<T>(what: "insert" | "dead-letter", fn: () => Promise<T>): Promise<T> {
    return retry(fn, {
      ...options.backoff,
      isTransient: options.isTransient,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onRetry: async (error, attempt, delayMs) => {
        stats.retries++;
        if (!backingOff) {
          backingOff = true;
          options.onBackoff?.(true);
        }
        options.onRetry?.(what, error, attempt, delayMs);
        try {
          await options.heartbeat?.();
        } catch {
          // A rebalance is under way; the commit after the write will tell.
        }
      },
    });
  }

  function recovered(): void {
    if (backingOff) {
      backingOff = false;
      options.onBackoff?.(false);
    }
  }

  async function publish(letters: OutgoingMessage[], kinds: DeadLetterKind[]): Promise<void> {
    if (letters.length === 0) return;
    await persist("dead-letter", () => options.publish(letters));
    recovered();
    for (const kind of kinds) stats.deadLettered[kind]++;
  }

  const batcher = createBatcher<Item>({
    maxRows: options.maxRows,
    maxBytes: options.maxBytes,
    maxWaitMs: options.maxWaitMs,
    concurrency: options.concurrency ?? 1,
    size: (item) => item.bytes,
    flush: async (items) => {
      const decoded: Decoded[] = [];
      const letters: OutgoingMessage[] = [];
      const kinds: DeadLetterKind[] = [];
      for (const item of items) {
        const { message, partition } = item;
        try {
          const source = { topic: options.topic, partition, offset: message.offset };
          decoded.push({ item, event: decodeEvent(message.value, source) });
        } catch (error) {
          if (!(error instanceof EventError)) throw error;
          const failure = failureOf(error);
          letters.push(deadLetter(message, options.topic, partition, failure));
          kinds.push(failure.kind);
        }
      }
      const rejected = decoded.length > 0 ? await write(decoded) : [];
      for (const letter of rejected) {
        letters.push(letter);
        kinds.push("rejected-by-bigquery");
      }
      await publish(letters, kinds);
    },
  });

  function rejectedLetter({ item }: Decoded, reason: string): OutgoingMessage {
    return deadLetter(item.message, options.topic, item.partition, {
      kind: "rejected-by-bigquery",
      reason: `Cannot store event: ${reason}`,
    });
  }

  /**
   * Writes items, returning dead letters for the rows BigQuery refused. When
   * the whole request is refused for good (not a transient error), the batch
   * is split in halves until the offending rows are isolated, so one bad row
   * never blocks the others.
   */
  async function write(items: Decoded[]): Promise<OutgoingMessage[]> {
    const rows = items.map(rowOf);
    const started = performance.now();
    let rejected: RejectedRow[];
    try {
      rejected = await persist("insert", () => options.write(rows));
    } catch (error) {
      if (options.isTransient(error) || options.signal?.aborted) throw error;
      recovered();
      if (items.length === 1) {
        return [rejectedLetter(items[0]!, errorMessage(error))];
      }
      const half = Math.ceil(items.length / 2);
      return [...await write(items.slice(0, half)), ...await write(items.slice(half))];
    }
    const millis = performance.now() - started;
    recovered();
    stats.batches++;
    stats.lastBatchRows = rows.length;
    stats.lastInsertMs = millis;
    stats.inserted += rows.length - rejected.length;
    options.onInsert?.(rows.length - rejected.length, millis);
    return rejected.flatMap(({ index, reason }) => {
      const item = items[index];
      return item === undefined ? [] : [rejectedLetter(item, reason)];
    });
  }

  return {
    async handle(partition, messages) {
      const ingestedAt = now().toISOString();
      const items: Item[] = [];
      for (const message of messages) {
        items.push({ message, partition, ingestedAt, bytes: (message.value?.length ?? 0) + 96 });
      }
      stats.consumed += messages.length;
      await batcher.add(items);
    },
    drain: () => batcher.drain(),
    stats,
  };
}
