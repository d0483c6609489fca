/**
 * The only module that knows about kafkajs: client creation, log bridging and
 * topic administration. Everything else talks to Kafka through what this
 * module returns, so the client library could be swapped in one place.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import process from "node:process";
import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  Kafka,
  type KafkaConfig as KafkaJsConfig,
  logLevel,
  Partitioners,
  type Producer,
  type ProducerConfig,
  type RecordMetadata,
} from "kafkajs";
import { logger } from "./log.ts";

export type { Admin, Consumer, Producer };
export type { EachBatchPayload, IHeaders, KafkaMessage, Message } from "kafkajs";

const log = logger("kafka");

function bridgeLogs(): NonNullable<KafkaJsConfig["logCreator"]> {
  return () => ({ level, log: entry }) => {
    const { message, timestamp: _t, logger: _l, stack: _s, ...fields } = entry;
    const text = `${entry.namespace ?? "kafkajs"}: ${message}`;
    switch (level) {
      case logLevel.ERROR:
        log.error(text, fields);
        break;
      case logLevel.WARN:
        log.warn(text, fields);
        break;
      case logLevel.INFO:
        log.debug(text, fields);
        break;
      default:
        log.trace(text, fields);
    }
  };
}

/** Connection settings of {@linkcode createKafka}. */
export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
}

/**
 * Creates a Kafka client that logs through LogTape and keeps retrying
 * connections (a broker restart must not end a long-running script).
 */
export function createKafka(options: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    logLevel: logLevel.INFO,
    logCreator: bridgeLogs(),
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 12 },
  });
}

/** Creates an idempotent producer using the default (murmur2) partitioner. */
export function createProducer(
  kafka: Kafka,
  config: ProducerConfig = {},
): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    ...config,
  });
}

/** Creates a group consumer. */
export function createConsumer(
  kafka: Kafka,
  config: ConsumerConfig,
): Consumer {
  return kafka.consumer(config);
}

/**
 * Creates `topic` with `partitions` partitions (and topic `config`) unless it
 * exists.
 * Returns true when it was created.
 */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  partitions: number,
  config: Record<string, string> = {},
): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return false;
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic,
        numPartitions: partitions,
        replicationFactor: -1,
        configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
      }],
    });
    if (created) log.info("Created topic {topic}", { topic, partitions });
    return created;
  } finally {
    await admin.disconnect();
  }
}

/** Committed offset and end offset of one partition. */
export interface PartitionLag {
  partition: number;
  committed: bigint;
  end: bigint;
  lag: bigint;
}

/** Lag of `group` on `topic`, per partition (end offset minus committed). */
export async function groupLag(
  admin: Admin,
  group: string,
  topic: string,
): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  const done = new Map<number, bigint>();
  for (const entry of committed[0]?.partitions ?? []) {
    done.set(entry.partition, BigInt(entry.offset === "-1" ? "0" : entry.offset));
  }
  return ends.map((entry) => {
    const end = BigInt(entry.high);
    const low = BigInt(entry.low);
    const at = done.get(entry.partition) ?? low;
    return {
      partition: entry.partition,
      committed: at,
      end,
      lag: end > at ? end - at : 0n,
    };
  }).sort((a, b) => a.partition - b.partition);
}

/** A message to publish (bytes as plain `Uint8Array`s). */
export interface PlainMessage {
  key: Uint8Array | string | null;
  value: Uint8Array | string | null;
  headers?: Record<string, string | Uint8Array>;
}

function toBuffer(bytes: Uint8Array | string | null): Buffer | string | null {
  if (bytes === null || typeof bytes === "string" || Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Sends `messages` to `topic` and waits for all in-sync replicas to have them. */
function byteLength(value: Uint8Array | string | null): number {
  return value === null ? 0 : typeof value === "string" ? value.length * 3 : value.byteLength;
}

/** Bytes of one message on the wire, roughly (key, value, headers). */
export function messageSize(message: PlainMessage): number {
  let size = 64 + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    size += name.length + byteLength(value) + 8;
  }
  return size;
}

/** Most bytes sent in one produce request (below the broker's 1 MB batch limit). */
export const MAX_REQUEST_BYTES = 512 * 1024;

/**
 * Splits messages into consecutive groups of at most `maxBytes` each; a
 * message larger than that forms a group of its own.
 *
 * @example
 * ```ts
 * import { chunkBySize } from "./kafka.ts";
 * const big = { key: null, value: new Uint8Array(600) };
 * chunkBySize([big, big, big], 1_000).length; // 3
 * ```
 */
export function chunkBySize<T extends PlainMessage>(
  messages: readonly T[],
  maxBytes: number,
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageSize(message);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * Sends `messages` to `topic` and waits for all in-sync replicas to have them.
 * Large sets go in several requests, in order.
 */
export async function publish(
  producer: Producer,
  topic: string,
  messages: readonly PlainMessage[],
): Promise<RecordMetadata[]> {
  const results: RecordMetadata[] = [];
  for (const chunk of chunkBySize(messages, MAX_REQUEST_BYTES)) {
    results.push(
      ...await producer.send({
        topic,
        acks: -1,
        messages: chunk.map((message) => {
          const headers: Record<string, string | Buffer> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            const converted = toBuffer(value);
            if (converted !== null) headers[name] = converted;
          }
          return { key: toBuffer(message.key), value: toBuffer(message.value), headers };
        }),
      }),
    );
  }
  return results;
}

const PERMANENT = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
]);

/** Whether `error` comes from the Kafka client. */
export function isKafkaError(error: unknown): boolean {
  return error instanceof Error && error.name.startsWith("KafkaJS");
}

/**
 * Whether a Kafka client error is worth retrying: everything but errors that
 * would fail the same way again (too large, not allowed, invalid). Exhausted
 * client retries (a broker down for a while) are worth retrying.
 */
export function isTransientKafkaError(error: unknown): boolean {
  for (let current = error, depth = 0; depth < 5; depth++) {
    if (typeof current !== "object" || current === null) return true;
    if ("type" in current && typeof current.type === "string" && PERMANENT.has(current.type)) {
      return false;
    }
    current = "originalError" in current
      ? current.originalError
      : "cause" in current
      ? current.cause
      : undefined;
  }
  return true;
}

// kafkajs schedules some timers with a negative delay (treated as 1 ms);
// the runtime's warning about it says nothing useful to our users.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = warning instanceof Error ? warning.name : typeof rest[0] === "string" ? rest[0] : "";
  if (name === "TimeoutNegativeWarning") return;
  Reflect.apply(emitWarning, process, [warning, ...rest]);
}) as typeof process.emitWarning;

// Appended with the topic reader (kept below the existing code on purpose).
import type { KafkaMessage as FetchedMessage } from "kafkajs";

/** Options of {@linkcode startTopicReader}. */
export interface TopicReaderOptions {
  topic: string;
  /** Prefix of the reader's throwaway group id (a random suffix is added). */
  groupPrefix: string;
  /** Called for each fetched batch, in offset order within a partition. */
  onBatch: (partition: number, messages: FetchedMessage[]) => void | Promise<void>;
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

/**
 * Reads every partition of `topic` from its earliest retained offset, for
 * as long as it runs, without ever committing: a fresh group id per start,
 * so each start replays the whole topic (state is rebuilt from scratch).
 * After a crash restart kafkajs may replay again; readers must be idempotent.
 */
export async function startTopicReader(
  kafka: Kafka,
  options: TopicReaderOptions,
): Promise<TopicReader> {
  const groupId = `${options.groupPrefix}-${crypto.randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  let offsetsAtStart: TopicReader["offsetsAtStart"];
  try {
    const offsets = await admin.fetchTopicOffsets(options.topic);
    offsetsAtStart = new Map(
      offsets.map((
        entry,
      ) => [entry.partition, { low: BigInt(entry.low), high: BigInt(entry.high) }]),
    );
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: options.maxWaitTimeInMs ?? 100,
    maxBytesPerPartition: 2_000_000,
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) options.onCrash?.(payload.error);
  });
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async ({ batch }) => {
      if (batch.messages.length > 0) await options.onBatch(batch.partition, batch.messages);
    },
  });
  return {
    offsetsAtStart,
    async stop() {
      await consumer.disconnect();
      const cleanup = kafka.admin();
      try {
        await cleanup.connect();
        await cleanup.deleteGroups([groupId]);
      } catch {
        // The broker drops empty groups without offsets by itself anyway.
      } finally {
        await cleanup.disconnect().catch(() => {});
      }
    },
  };
}
