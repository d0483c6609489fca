/**
 * Reading a whole topic: {@linkcode startTopicReader} follows every
 * partition from its earliest offset for as long as it runs (the
 * dashboard's input), {@linkcode readToEnd} reads up to the end the topic
 * had when it started and returns (the dead-letter tool's input). Both are
 * sources with plain records; neither leaves anything behind unless asked
 * to commit.
 *
 * @module
 */

import { type KafkaClient } from "./client.ts";
import { type CommittedOffset, createAdmin } from "./admin.ts";
import { createSource, type SourceRecord } from "./source.ts";

/** Options of {@linkcode startTopicReader}. */
export interface TopicReaderOptions {
  topic: string;
  /** Prefix of the reader's throwaway group id (a random suffix is added). */
  groupPrefix: string;
  /** Called for each fetched batch, in offset order within a partition. */
  onBatch: (partition: number, messages: readonly SourceRecord[]) => void | Promise<void>;
  /** Longest a fetch waits for new messages (default 100 ms: low latency). */
  maxWaitTimeInMs?: number;
  /** Called when the client crashed and will not restart by itself. */
  onCrash?: (error: unknown) => void;
}

/** A running {@linkcode startTopicReader}. */
export interface TopicReader {
  /** Earliest retained (`low`) and next (`high`) offset of each partition at start. */
  offsetsAtStart: Map<number, { low: bigint; high: bigint }>;
  /** Stops reading and removes the throwaway group. */
  stop(): Promise<void>;
}

/** Deletes a throwaway group; the broker drops empty groups without offsets by itself anyway. */
async function removeGroup(kafka: KafkaClient, group: string): Promise<void> {
  const admin = createAdmin(kafka);
  await admin.deleteGroups([group]).catch(() => {});
  await admin.close().catch(() => {});
}

/**
 * Reads every partition of `topic` from its earliest retained offset, for
 * as long as it runs, without ever committing: a fresh group id per start,
 * so each start replays the whole topic (state is rebuilt from scratch).
 * After a crash restart the client may replay again; readers must be
 * idempotent.
 */
export async function startTopicReader(
  kafka: KafkaClient,
  options: TopicReaderOptions,
): Promise<TopicReader> {
  const group = `${options.groupPrefix}-${crypto.randomUUID()}`;
  const admin = createAdmin(kafka);
  let offsetsAtStart: TopicReader["offsetsAtStart"];
  try {
    offsetsAtStart = new Map(
      (await admin.topicOffsets(options.topic)).map(({ partition, low, high }) => [
        partition,
        { low, high },
      ]),
    );
  } finally {
    await admin.close();
  }
  const source = createSource(kafka, {
    topic: options.topic,
    group,
    maxWaitMs: options.maxWaitTimeInMs ?? 100,
    // Small fetches keep memory flat while a long topic is replayed.
    maxBytes: 1_048_576,
    maxBytesPerPartition: 524_288,
  });
  source.onCrash((error, restarting) => {
    if (!restarting) options.onCrash?.(error);
  });
  await source.run(async (batch) => {
    await options.onBatch(batch.partition, batch.messages);
  });
  return {
    offsetsAtStart,
    async stop() {
      await source.stop();
      await removeGroup(kafka, group);
    },
  };
}

/** A record read by {@linkcode readToEnd}, with plain bytes. */
export interface TopicRecord {
  partition: number;
  offset: string;
  /** Kafka timestamp, epoch milliseconds as text. */
  timestamp: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** Header values as bytes (the first value of a repeated header). */
  headers: Record<string, Uint8Array>;
}

/** Options of {@linkcode readToEnd}. */
export interface ReadToEndOptions {
  topic: string;
  /**
   * Consumer group to read as: its committed offsets are where reading
   * starts. Default: a throwaway group, deleted afterwards.
   */
  groupId?: string;
  /** Start no earlier than these offsets (per partition). */
  from?: ReadonlyMap<number, bigint>;
  /** Commit the group's offset past each batch once `onBatch` resolved (needs `groupId`). */
  commit?: boolean;
  /** Handles the records of one partition, in offset order; awaited before the next batch. */
  onBatch: (records: TopicRecord[]) => Promise<void>;
  /** Give up when nothing arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
}

/** Where reading started and ended, per partition. */
export interface ReadRange {
  partition: number;
  /** First offset read. */
  start: bigint;
  /** End offset when reading started (exclusive). */
  end: bigint;
}

/**
 * `message` of `partition` with plain bytes: text headers encoded, the
 * first value of a repeated header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicRecord } from "./reader.ts";
 * const record = topicRecord(2, {
 *   offset: "5", timestamp: "0", key: null, value: null, headers: { a: "x", b: ["y", "z"] },
 * });
 * assert.deepEqual(Object.keys(record.headers), ["a", "b"]);
 * assert.equal(new TextDecoder().decode(record.headers.b), "y");
 * ```
 */
export function topicRecord(partition: number, message: SourceRecord): TopicRecord {
  const headers: Record<string, Uint8Array> = {};
  const encoder = new TextEncoder();
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const value = typeof raw === "string" || raw instanceof Uint8Array ? raw : raw?.[0];
    if (value !== undefined) {
      headers[name] = typeof value === "string" ? encoder.encode(value) : value;
    }
  }
  return {
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key ?? null,
    value: message.value ?? null,
    headers,
  };
}

/**
 * Reads `topic` from where `groupId` left off (or from its earliest retained
 * offset) up to the end it had when the call started, then stops. New
 * messages arriving meanwhile are left for the next run. With `commit`, the
 * group's offset moves past each batch only after `onBatch` resolved (so a
 * crash re-reads at most one batch); without it nothing is committed.
 *
 * Refuses to start when `groupId` has active members (another run of the
 * same job), so two runs never handle the same records.
 *
 * @example
 * ```ts ignore
 * const ranges = await readToEnd(kafka, {
 *   topic: "plays.dlq",
 *   onBatch: async (records) => console.log(records.length),
 * });
 * ```
 */
export async function readToEnd(
  kafka: KafkaClient,
  options: ReadToEndOptions,
): Promise<ReadRange[]> {
  const { topic } = options;
  const throwaway = options.groupId === undefined;
  const group = options.groupId ?? `livecharts-read-${crypto.randomUUID()}`;
  if (options.commit && throwaway) {
    throw new Error("Cannot commit while reading without a 'groupId'");
  }
  const admin = createAdmin(kafka);
  let ranges: ReadRange[];
  try {
    if (!throwaway) {
      const state = await admin.groupState(group);
      if (state !== undefined && !["Empty", "Dead"].includes(state.state)) {
        throw new Error(
          `Cannot read ${topic} as group ${group}: the group is ${state.state} with ${state.members} member(s) (another run in progress?)`,
        );
      }
    }
    const [ends, committed] = await Promise.all([
      admin.topicOffsets(topic),
      throwaway
        ? Promise.resolve(new Map<number, CommittedOffset>())
        : admin.committed(group, topic),
    ]);
    ranges = ends.map(({ partition, low, high }) => {
      const candidates = [
        low,
        committed.get(partition)?.offset ?? low,
        options.from?.get(partition) ?? low,
      ];
      const start = candidates.reduce((a, b) => (b > a ? b : a));
      return { partition, start, end: high };
    });
  } finally {
    await admin.close();
  }

  const pending = new Map(
    ranges.filter((r) => r.start < r.end).map((r) => [r.partition, { ...r }]),
  );
  if (pending.size === 0) return ranges;

  let settle: (error?: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });
  let lastActivity = Date.now();
  const source = createSource(kafka, {
    topic,
    group,
    maxWaitMs: 200,
    maxBytesPerPartition: 1_000_000,
  });
  source.onAssigned((partitions) => {
    lastActivity = Date.now();
    for (const partition of partitions) {
      const range = pending.get(partition);
      if (range !== undefined) source.seek(partition, range.start);
    }
  });
  source.onCrash((error, restarting) => {
    if (!restarting) settle(error);
  });
  const idleMs = options.idleTimeoutMs ?? 30_000;
  const watchdog = setInterval(() => {
    if (Date.now() - lastActivity < idleMs) return;
    const left = [...pending.values()].map((r) => `${r.partition}: ${r.start}..${r.end}`);
    settle(
      new Error(
        `Cannot read ${topic} to its end: nothing arrived for ${idleMs / 1000} s (left: ${
          left.join(", ")
        })`,
      ),
    );
  }, 500);
  try {
    await source.run(async (batch, heartbeat) => {
      const range = pending.get(batch.partition);
      if (range === undefined) return;
      lastActivity = Date.now();
      const records = batch.messages
        .filter((m) => BigInt(m.offset) >= range.start && BigInt(m.offset) < range.end)
        .map((m) => topicRecord(batch.partition, m));
      const last = records[records.length - 1];
      if (last === undefined) return;
      try {
        await options.onBatch(records);
        const next = BigInt(last.offset) + 1n;
        if (options.commit) await source.commit(batch.partition, next);
        range.start = next;
        if (next >= range.end) pending.delete(batch.partition);
        if (pending.size === 0) settle();
        await heartbeat();
      } catch (error) {
        source.pause();
        settle(error);
      }
    });
    await finished;
  } finally {
    clearInterval(watchdog);
    await source.stop().catch(() => {});
    if (throwaway) await removeGroup(kafka, group);
  }
  return ranges;
}
