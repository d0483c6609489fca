/**
 * The only module that knows about kafkajs: client creation, log bridging and
 * topic administration. Everything else talks to Kafka through what this
 * module returns, so the client library could be swapped in one place.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import process from "node:process";
import type { ConnectionOptions } from "node:tls";
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
  type SASLOptions,
} from "kafkajs";
import { installFastVarints } from "./encoder_patch.ts";
import { logger } from "../ops/mod.ts";
import { addSecret } from "../ops/mod.ts";

// kafkajs spends most of a producer's time building a Buffer per varint;
// these write the same bytes in place (see kafka_encoder_patch.ts).
installFastVarints();

export type { Admin, Consumer, Producer };
export type { EachBatchPayload, IHeaders, KafkaMessage, Message } from "kafkajs";

const log = logger("kafka");

// Fields of kafkajs log entries that may carry credentials or raw protocol
// bytes (SASL messages); they are never logged.
const UNSAFE_FIELD = /pass|secret|sasl|auth|token|credential|buffer|payload/i;

/**
 * A kafkajs log field made safe to log: bytes become their length, and
 * fields that may hold credentials or protocol bytes are dropped (in nested
 * objects too). Strings are redacted later, by the log formatter.
 */
export function safeLogField(value: unknown, depth = 0): unknown {
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (value instanceof Error) return value.message;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= 4) return "<nested>";
  if (Array.isArray(value)) return value.map((item) => safeLogField(item, depth + 1));
  const safe: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!UNSAFE_FIELD.test(key)) safe[key] = safeLogField(item, depth + 1);
  }
  return safe;
}

function bridgeLogs(): NonNullable<KafkaJsConfig["logCreator"]> {
  return () => ({ level, log: entry }) => {
    const { message, timestamp: _t, logger: _l, stack: _s, ...raw } = entry;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (!UNSAFE_FIELD.test(key)) fields[key] = safeLogField(value);
    }
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

/** Authentication and encryption settings (the `kafkaOptions` of config.ts). */
export interface KafkaSecurityOptions {
  /** `plain`, `scram-sha-256` or `scram-sha-512` (any case); unset: no SASL. */
  saslMechanism?: string | undefined;
  saslUsername?: string | undefined;
  saslPassword?: string | undefined;
  /** Connect with TLS; implied by `sslCa`. */
  ssl?: boolean | undefined;
  /** PEM file of the CA that signed the brokers' certificates (default: public roots). */
  sslCa?: string | undefined;
  /** Verify the brokers' certificates (default true). */
  sslRejectUnauthorized?: boolean | undefined;
}

/** Connection settings of {@linkcode createKafka}. */
export interface KafkaClientOptions extends KafkaSecurityOptions {
  brokers: string[];
  clientId: string;
}

/** What {@linkcode kafkaSecurity} adds to the client configuration. */
export interface KafkaSecurity {
  sasl?: SASLOptions;
  ssl?: ConnectionOptions | boolean;
}

/** Reads a PEM CA file; the error names the file, never its contents. */
function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = Deno.readTextFileSync(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot read the Kafka CA file ${JSON.stringify(path)}: ${reason}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(
      `Cannot use the Kafka CA file ${JSON.stringify(path)}: expected PEM certificates ` +
        `(-----BEGIN CERTIFICATE-----)`,
    );
  }
  return pem;
}

/**
 * The kafkajs `sasl` and `ssl` settings for `options` (reads the CA file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kafkaSecurity } from "./kafka.ts";
 * assert.deepEqual(
 *   kafkaSecurity({ saslMechanism: "scram-sha-512", saslUsername: "app", saslPassword: "pw" }),
 *   { sasl: { mechanism: "scram-sha-512", username: "app", password: "pw" } },
 * );
 * ```
 */
export function kafkaSecurity(options: KafkaSecurityOptions): KafkaSecurity {
  const security: KafkaSecurity = {};
  if (options.saslMechanism !== undefined) {
    const { saslUsername: username, saslPassword: password } = options;
    const mechanism = options.saslMechanism.toLowerCase();
    if (username === undefined || password === undefined) {
      throw new Error(`Cannot use SASL ${mechanism} without a user name and a password`);
    }
    switch (mechanism) {
      case "plain":
      case "scram-sha-256":
      case "scram-sha-512":
        security.sasl = { mechanism, username, password };
        break;
      default:
        throw new Error(
          `Cannot use SASL mechanism ${JSON.stringify(options.saslMechanism)}: ` +
            `expected plain, scram-sha-256 or scram-sha-512`,
        );
    }
  }
  const rejectUnauthorized = options.sslRejectUnauthorized ?? true;
  if (options.sslCa !== undefined) {
    security.ssl = { ca: [readCaFile(options.sslCa)], rejectUnauthorized };
  } else if (options.ssl) {
    security.ssl = rejectUnauthorized ? true : { rejectUnauthorized };
  }
  return security;
}

/**
 * Creates a Kafka client that logs through LogTape and keeps retrying
 * connections (a broker restart must not end a long-running script).
 * Authenticates with SASL and encrypts with TLS as `options` say; the
 * password is registered for redaction, so no log line ever shows it.
 * Extra properties in `options` are ignored: a script's whole config fits.
 */
export function createKafka(options: KafkaClientOptions): Kafka {
  addSecret(options.saslPassword);
  const security = kafkaSecurity(options);
  if (typeof security.ssl === "object" && security.ssl.rejectUnauthorized === false) {
    log.warn("Not verifying the brokers' TLS certificates (KAFKA_SSL_REJECT_UNAUTHORIZED=false)");
  }
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    logLevel: logLevel.INFO,
    logCreator: bridgeLogs(),
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 12 },
    ...security,
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
  // Encoded once here: given a string, kafkajs encodes it again for the
  // partitioner and for the record (~5 % of the producer's time).
  if (typeof bytes === "string") return Buffer.from(bytes);
  if (bytes === null || Buffer.isBuffer(bytes)) return bytes;
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
    // Small fetches keep memory flat while a long topic is replayed.
    maxBytes: 1_048_576,
    maxBytesPerPartition: 524_288,
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

// Appended for the dead-letter tool (dlq.ts): reading a topic up to its
// current end, optionally as a consumer group that commits what it handled.

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

function recordOf(partition: number, message: FetchedMessage): TopicRecord {
  const headers: Record<string, Uint8Array> = {};
  const encoder = new TextEncoder();
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    const value = Array.isArray(raw) ? raw[0] : raw;
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

/** Committed offsets of `groupId` on `topic` (partitions without one are left out). */
export async function committedOffsetsOf(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const offsets = new Map<number, bigint>();
  for (const partition of entry?.partitions ?? []) {
    if (partition.offset !== "-1") offsets.set(partition.partition, BigInt(partition.offset));
  }
  return offsets;
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
export async function readToEnd(kafka: Kafka, options: ReadToEndOptions): Promise<ReadRange[]> {
  const { topic } = options;
  const throwaway = options.groupId === undefined;
  const groupId = options.groupId ?? `livecharts-read-${crypto.randomUUID()}`;
  if (options.commit && throwaway) {
    throw new Error("Cannot commit while reading without a 'groupId'");
  }
  const admin = kafka.admin();
  await admin.connect();
  let ranges: ReadRange[];
  try {
    if (!throwaway) {
      const [group] = (await admin.describeGroups([groupId])).groups;
      if (group !== undefined && !["Empty", "Dead"].includes(group.state)) {
        throw new Error(
          `Cannot read ${topic} as group ${groupId}: the group is ${group.state} with ${group.members.length} member(s) (another run in progress?)`,
        );
      }
    }
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      throwaway
        ? Promise.resolve(new Map<number, bigint>())
        : committedOffsetsOf(admin, groupId, topic),
    ]);
    ranges = ends.map((entry) => {
      const low = BigInt(entry.low);
      const candidates = [
        low,
        committed.get(entry.partition) ?? low,
        options.from?.get(entry.partition) ?? low,
      ];
      const start = candidates.reduce((a, b) => (b > a ? b : a));
      return { partition: entry.partition, start, end: BigInt(entry.high) };
    }).sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }

  const pending = new Map(
    ranges.filter((r) => r.start < r.end).map((r) => [r.partition, { ...r }]),
  );
  if (pending.size === 0) return ranges;

  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 1_000_000,
    allowAutoTopicCreation: false,
  });
  let settle: (error?: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });
  let lastActivity = Date.now();
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    lastActivity = Date.now();
    for (const partition of payload.memberAssignment[topic] ?? []) {
      const range = pending.get(partition);
      if (range !== undefined) consumer.seek({ topic, partition, offset: String(range.start) });
    }
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) settle(payload.error);
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
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat }) => {
        const range = pending.get(batch.partition);
        if (range === undefined) return;
        lastActivity = Date.now();
        const records = batch.messages
          .filter((m) => BigInt(m.offset) >= range.start && BigInt(m.offset) < range.end)
          .map((m) => recordOf(batch.partition, m));
        const last = records[records.length - 1];
        if (last === undefined) return;
        try {
          await options.onBatch(records);
          const next = BigInt(last.offset) + 1n;
          if (options.commit) {
            await consumer.commitOffsets([{
              topic,
              partition: batch.partition,
              offset: String(next),
            }]);
          }
          range.start = next;
          if (next >= range.end) pending.delete(batch.partition);
          if (pending.size === 0) settle();
          await heartbeat();
        } catch (error) {
          consumer.pause([{ topic }]);
          settle(error);
        }
      },
    });
    await finished;
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect().catch(() => {});
    if (throwaway) {
      const cleanup = kafka.admin();
      await cleanup.connect()
        .then(() => cleanup.deleteGroups([groupId]))
        .catch(() => {}) // the broker drops empty groups without offsets by itself anyway
        .finally(() => cleanup.disconnect().catch(() => {}));
    }
  }
  return ranges;
}
