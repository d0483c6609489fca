/**
 * The input side: a consumer group member reading one topic, in batches
 * per partition, committing only what its handler finished.
 *
 * The contract follows kafkajs' own runner: the client never commits by
 * itself, a batch counts as read only once the handler resolved (if it
 * throws, the same messages are fetched again), and the handler commits
 * what it made durable with {@linkcode Source.commit}, optionally with a
 * metadata string that {@linkcode KafkaAdmin.committed} reads back.
 *
 * Messages reach the handler as the client decoded them (no copy): objects
 * of the {@linkcode SourceRecord} shape, bytes as `Uint8Array`s. Read their
 * fields; do not spread them (a record without headers keeps its fields as
 * getters, see `record_decoder_patch.ts`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { AssignerProtocol, type PartitionAssigner } from "kafkajs";
import { type KafkaClient, kafkajsOf } from "./client.ts";
import { createAdmin, type KafkaAdmin, type PartitionLag } from "./admin.ts";

/** A header value: bytes or text, or several of them for a repeated header. */
export type HeaderValue = Uint8Array | string | readonly (Uint8Array | string)[];

/** One message as read. */
export interface SourceRecord {
  readonly offset: string;
  /** Kafka timestamp, epoch milliseconds as text. */
  readonly timestamp: string;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** The value's length in bytes (0 for none), when known without reading `value`. */
  readonly valueLength?: number;
  readonly headers?: Readonly<Record<string, HeaderValue | undefined>> | undefined;
}

/** Consecutive messages of one partition. */
export interface SourceBatch {
  readonly partition: number;
  /** At least one message, in offset order. */
  readonly messages: readonly SourceRecord[];
  /** The partition's end offset when the batch was fetched. */
  readonly highWatermark: bigint;
  /** Offset after the batch's last message: what to commit once it is stored. */
  readonly nextOffset: bigint;
  /**
   * The offset the batch was fetched from (at most its first message's:
   * control records and compaction leave offsets without messages). A batch
   * fetched before a rebalance may come from a position past the group's
   * committed offset: a stale batch.
   */
  readonly fetchedOffset: bigint;
}

/**
 * Handles one batch; resolves once it is done with it (and committed it,
 * if it commits). `heartbeat` keeps the group membership alive during a long
 * handler.
 */
export type BatchHandler = (batch: SourceBatch, heartbeat: () => Promise<void>) => Promise<void>;

/** Options of {@linkcode createSource}. */
export interface SourceOptions {
  topic: string;
  /** Consumer group id. */
  group: string;
  /** Where a group without a committed offset starts (default true: the earliest offset). */
  fromBeginning?: boolean;
  /** Longest a fetch waits for messages (the client's default: 5 s). */
  maxWaitMs?: number;
  /** Most bytes fetched per partition per request (the client's default: 1 MB). */
  maxBytesPerPartition?: number;
  /** Most bytes per fetch request (the client's default: 10 MB). */
  maxBytes?: number;
  /** Partitions whose batches are handled at the same time (default 1). */
  partitionsAtOnce?: number;
  /**
   * Only these partitions of the topic (default: all, shared among the
   * group's members). The group's leader gives them all to one member and
   * nothing to the others: meant for a group of one, such as a reader's
   * throwaway group.
   */
  partitions?: readonly number[];
  /**
   * How long the group waits for a silent member before its partitions move
   * (default 30 s); heartbeats go at a tenth of it.
   */
  sessionTimeoutMs?: number;
}

/** Called with partition numbers. */
export type PartitionsListener = (partitions: number[]) => void;
/** Called when the client failed; it rejoins by itself when `restarting`. */
export type CrashListener = (error: unknown, restarting: boolean) => void;

/** A consumer group member reading one topic. */
export interface Source {
  readonly topic: string;
  readonly group: string;
  /** Calls `listener` with the partitions this member owns after each rebalance (maybe none). */
  onAssigned(listener: PartitionsListener): void;
  /** Calls `listener` with partitions this member lost (rebalance, crash or stop). */
  onRevoked(listener: PartitionsListener): void;
  /** Calls `listener` when the client fails. */
  onCrash(listener: CrashListener): void;
  /** Joins the group and starts handing batches to `handler`; resolves once running. */
  run(handler: BatchHandler): Promise<void>;
  /** Commits `nextOffset` (the next offset to read) for `partition`, with `metadata`. */
  commit(partition: number, nextOffset: bigint, metadata?: string): Promise<void>;
  /** Moves the read position of an owned partition (e.g. from `onAssigned`); ignored when not running. */
  seek(partition: number, offset: bigint): void;
  /** The partition's log start offset: its earliest retained record. */
  logStart(partition: number): Promise<bigint>;
  /** Stops fetching `partitions` (default: all; batches being handled carry on). */
  pause(partitions?: readonly number[]): void;
  /** Fetches `partitions` (default: all) again after {@linkcode Source.pause}. */
  resume(partitions?: readonly number[]): void;
  /** The group's lag per partition, as the broker knows it (end minus committed). */
  lag(): Promise<PartitionLag[]>;
  /** Leaves the group once the batches being handled are done, and disconnects. */
  stop(): Promise<void>;
}

/**
 * The offset a kafkajs batch was fetched from (its `fetchedOffset`, which
 * its type does not declare), or `first` (its first message's offset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchedOffsetOf } from "./source.ts";
 * assert.equal(fetchedOffsetOf({ fetchedOffset: "40" }, 42n), 40n);
 * assert.equal(fetchedOffsetOf({}, 42n), 42n);
 * assert.equal(fetchedOffsetOf({ fetchedOffset: "50" }, 42n), 42n); // never past its messages
 * ```
 */
export function fetchedOffsetOf(batch: object, first: bigint): bigint {
  if (!("fetchedOffset" in batch)) return first;
  const value = batch.fetchedOffset;
  if (typeof value !== "string" && typeof value !== "number") return first;
  if (!/^\d+$/.test(String(value))) return first;
  const fetched = BigInt(value);
  return fetched < first ? fetched : first;
}

/**
 * A group assignment that gives `partitions` of `topic` to the first member
 * and nothing to the others (kafkajs' assigner interface; its own round
 * robin would spread every partition).
 */
function onlyPartitions(topic: string, partitions: readonly number[]): PartitionAssigner {
  const name = "LivechartsOnly";
  const empty = Buffer.alloc(0);
  return () => ({
    name,
    version: 1,
    assign: ({ members }) =>
      Promise.resolve(members.map(({ memberId }, index) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: index === 0 ? { [topic]: [...partitions] } : {},
          userData: empty,
        }),
      }))),
    protocol: ({ topics }) => ({
      name,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: empty }),
    }),
  });
}

/** Creates a source; nothing connects before {@linkcode Source.run}. */
export function createSource(kafka: KafkaClient, options: SourceOptions): Source {
  const { topic, group } = options;
  const consumer = kafkajsOf(kafka).consumer({
    groupId: group,
    ...(options.partitions === undefined
      ? {}
      : { partitionAssigners: [onlyPartitions(topic, options.partitions)] }),
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.max(100, Math.floor((options.sessionTimeoutMs ?? 30_000) / 10)),
    allowAutoTopicCreation: false,
    ...(options.maxWaitMs === undefined ? {} : { maxWaitTimeInMs: options.maxWaitMs }),
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.maxBytesPerPartition === undefined
      ? {}
      : { maxBytesPerPartition: options.maxBytesPerPartition }),
  });
  const assigned: PartitionsListener[] = [];
  const revoked: PartitionsListener[] = [];
  const crashed: CrashListener[] = [];
  let owned: number[] = [];
  let admin: KafkaAdmin | undefined;

  function revoke(partitions: number[]): void {
    if (partitions.length === 0) return;
    for (const listener of revoked) listener([...partitions]);
  }

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const now = [...(payload.memberAssignment[topic] ?? [])];
    const lost = owned.filter((partition) => !now.includes(partition));
    owned = now;
    revoke(lost);
    for (const listener of assigned) listener([...now]);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const lost = owned;
    owned = [];
    revoke(lost);
    for (const listener of crashed) listener(payload.error, payload.restart);
  });

  return {
    topic,
    group,
    onAssigned: (listener) => void assigned.push(listener),
    onRevoked: (listener) => void revoked.push(listener),
    onCrash: (listener) => void crashed.push(listener),
    async run(handler) {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsAtOnce ?? 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          const first = batch.messages[0];
          const last = batch.messages[batch.messages.length - 1];
          if (first === undefined || last === undefined) return;
          await handler({
            partition: batch.partition,
            messages: batch.messages,
            highWatermark: BigInt(batch.highWatermark),
            nextOffset: BigInt(last.offset) + 1n,
            fetchedOffset: fetchedOffsetOf(batch, BigInt(first.offset)),
          }, heartbeat);
          resolveOffset(last.offset);
        },
      });
    },
    async commit(partition, nextOffset, metadata) {
      await consumer.commitOffsets([{
        topic,
        partition,
        offset: String(nextOffset),
        ...(metadata === undefined ? {} : { metadata }),
      }]);
    },
    seek(partition, offset) {
      try {
        consumer.seek({ topic, partition, offset: String(offset) });
      } catch {
        // Not running (stopped, or not started): nothing to fetch again.
      }
    },
    async logStart(partition) {
      admin ??= createAdmin(kafka);
      const found = (await admin.topicOffsets(topic)).find((p) => p.partition === partition);
      if (found === undefined) {
        throw new Error(`Cannot find the log start of ${topic}/${partition}: no such partition`);
      }
      return found.low;
    },
    pause(partitions) {
      consumer.pause([{
        topic,
        ...(partitions === undefined ? {} : { partitions: [...partitions] }),
      }]);
    },
    resume(partitions) {
      consumer.resume([{
        topic,
        ...(partitions === undefined ? {} : { partitions: [...partitions] }),
      }]);
    },
    lag() {
      admin ??= createAdmin(kafka);
      return admin.groupLag(group, topic);
    },
    async stop() {
      try {
        await consumer.disconnect();
      } finally {
        const lost = owned;
        owned = [];
        revoke(lost);
        await admin?.close().catch(() => {});
      }
    },
  };
}
