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
 * Creates `topic` with `partitions` partitions unless it exists.
 * Returns true when it was created.
 */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  partitions: number,
): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return false;
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }],
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
export function publish(
  producer: Producer,
  topic: string,
  messages: readonly PlainMessage[],
): Promise<RecordMetadata[]> {
  return producer.send({
    topic,
    acks: -1,
    messages: messages.map((message) => {
      const headers: Record<string, string | Buffer> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        const converted = toBuffer(value);
        if (converted !== null) headers[name] = converted;
      }
      return { key: toBuffer(message.key), value: toBuffer(message.value), headers };
    }),
  });
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
