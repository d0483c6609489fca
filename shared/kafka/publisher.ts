/**
 * The output side: publishing messages to topics, in size-bounded requests,
 * acknowledged by all in-sync replicas, idempotently.
 *
 * Idempotence in kafkajs 2.2.4: the producer gets an id from the broker and
 * numbers its records per partition; the broker answers a batch whose
 * numbers it already holds with success and the offset of the batch it
 * holds, without writing it again. So a request retried unchanged after a
 * lost response or a partial failure is written once. But kafkajs, when a
 * request fails (one failed partition fails all of it), rolls the numbers of
 * *every* partition of the request back, also of those the broker wrote,
 * and releases its per-broker lock before it retries. Any other request
 * that takes the lock then is given the same numbers, and where it carries
 * as many records for a partition as the written batch did, the broker takes
 * it for that batch and acknowledges it unwritten: records lost, reported
 * delivered. The same happens when a retry places unkeyed messages on other
 * partitions than the first attempt did (kafkajs assigns them round-robin
 * again on each attempt).
 *
 * So this publisher:
 * - sends one request at a time (`send()` calls queue), so kafkajs' own
 *   retry of a request is the next request its numbers go to;
 * - fixes each message's partition on the first attempt (a retry repeats the
 *   request exactly);
 * - after a `send()` failed (kafkajs gave up, the broker may hold part of
 *   it), replaces its producer: the next request gets a new producer id, so
 *   it can never be taken for the unknown one. Retrying a failed `send()`
 *   may then write twice what the broker already held; it never loses.
 *
 * One request at a time and `maxInFlightRequests: 1` also keep order: the
 * requests of a publisher reach each partition in the order of the `send()`
 * calls, and a song's plays (one key, one partition) keep their order. Only
 * a failed `send()` is overtaken, by the sends queued behind it, when its
 * caller retries it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  type ICustomPartitioner,
  type Message as KafkaMessage,
  Partitioners,
  type Producer,
} from "kafkajs";
import { type KafkaClient, kafkajsOf } from "./client.ts";
import { KafkaTopicNotFoundError } from "./errors.ts";
import { logger } from "../ops/mod.ts";

const log = logger("kafka");

/** A message to publish (bytes as plain `Uint8Array`s). */
export interface PlainMessage {
  key: Uint8Array | string | null;
  value: Uint8Array | string | null;
  headers?: Record<string, string | Uint8Array>;
}

/** Where one request's messages landed. */
export interface Delivery {
  topic: string;
  partition: number;
  /** Offset of the request's first message in that partition. */
  baseOffset: string;
}

/** Options of `Publisher.send`. */
export interface SendOptions {
  /**
   * Once aborted, the send fails at once: a send still waiting for its turn
   * sends nothing; a request in flight is abandoned (the broker may still
   * write it) and the publisher replaces its producer.
   */
  signal?: AbortSignal | undefined;
}

/** Publishes to Kafka. */
export interface Publisher {
  /**
   * Sends `messages` to `topic` and waits for all in-sync replicas to have
   * them. Large sets go in several requests, in order; calls are served one
   * at a time, in call order. Keyed messages go to the partition the key
   * hashes to (murmur2, as the Java client does), others round-robin.
   * Rejects with a {@linkcode KafkaTopicNotFoundError} within seconds when
   * `topic` does not exist (the client would retry it for ~45 s).
   */
  send(
    topic: string,
    messages: readonly PlainMessage[],
    options?: SendOptions,
  ): Promise<Delivery[]>;
  /** Disconnects (safe to call twice). */
  close(): Promise<void>;
}

function toBuffer(bytes: Uint8Array | string | null): Buffer | string | null {
  // Encoded once here: given a string, kafkajs encodes it again for the
  // partitioner and for the record (~5 % of the producer's time).
  if (typeof bytes === "string") return Buffer.from(bytes);
  if (bytes === null || Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function byteLength(value: Uint8Array | string | null): number {
  return value === null ? 0 : typeof value === "string" ? value.length * 3 : value.byteLength;
}

/**
 * Bytes of one message on the wire, roughly (key, value, headers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageSize } from "./publisher.ts";
 * assert.equal(messageSize({ key: null, value: new Uint8Array(100) }), 164);
 * ```
 */
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
 * import assert from "node:assert/strict";
 * import { chunkBySize } from "./publisher.ts";
 * const big = { key: null, value: new Uint8Array(600) };
 * assert.equal(chunkBySize([big, big, big], 1_000).length, 3);
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

function kafkaMessage(message: PlainMessage): KafkaMessage {
  const headers: Record<string, string | Buffer> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const converted = toBuffer(value);
    if (converted !== null) headers[name] = converted;
  }
  return { key: toBuffer(message.key), value: toBuffer(message.value), headers };
}

/**
 * The default partitioner (murmur2 of the key, round-robin without one),
 * except that a message keeps the partition it was given first: kafkajs asks
 * again on each retry of a request, and an unkeyed message would move.
 */
function stickyPartitioner(): ICustomPartitioner {
  return () => {
    const choose = Partitioners.DefaultPartitioner();
    const chosen = new WeakMap<object, number>();
    return (args) => {
      let partition = chosen.get(args.message);
      if (partition === undefined) {
        partition = choose(args);
        chosen.set(args.message, partition);
      }
      return partition;
    };
  };
}

/** First check of a request still unanswered, and the interval of the next ones. */
const CHECK_AFTER_MS = 1_000;

/**
 * `request`, unless `signal` aborts or `topicExists` answers false first
 * (asked after a second without an answer, then every second). An
 * abandoned request is left to finish on its own.
 */
function watchRequest<T>(
  request: Promise<T>,
  topic: string,
  signal: AbortSignal | undefined,
  topicExists: () => Promise<boolean>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    const onAbort = () =>
      finish(() =>
        reject(new Error(`Cannot send to ${topic}: stopped before the broker answered`))
      );
    const check = async () => {
      // Unknown (broker unreachable) counts as existing: the client keeps trying.
      const exists = await topicExists().catch(() => true);
      if (settled) return;
      if (!exists) finish(() => reject(new KafkaTopicNotFoundError(topic)));
      else timer = setTimeout(check, CHECK_AFTER_MS);
    };
    request.then((value) => finish(() => resolve(value)), (error) => finish(() => reject(error)));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(check, CHECK_AFTER_MS);
  });
}

/**
 * Connects an idempotent publisher (acks from all in-sync replicas, one
 * request at a time, the default murmur2 partitioner). The client's bounded
 * retries apply: a broker away for longer makes `send()` reject, and the
 * caller decides whether to try again (see the module notes for why that is
 * safe).
 */
export async function openPublisher(kafka: KafkaClient): Promise<Publisher> {
  const client = kafkajsOf(kafka);
  async function connect(): Promise<Producer> {
    const created = client.producer({
      createPartitioner: stickyPartitioner(),
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await created.connect();
    return created;
  }
  // Undefined after a failed send: the next send connects a new producer.
  let producer: Producer | undefined = await connect();
  // Asked only about requests left unanswered for a while.
  const admin = client.admin();
  let adminReady: Promise<void> | undefined;
  async function topicExists(topic: string): Promise<boolean> {
    adminReady ??= admin.connect().catch((error) => {
      adminReady = undefined;
      throw error;
    });
    await adminReady;
    return (await admin.listTopics()).includes(topic);
  }
  let turn: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function sendNow(
    topic: string,
    requests: readonly KafkaMessage[][],
    signal: AbortSignal | undefined,
  ): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    for (const messages of requests) {
      if (closed) throw new Error(`Cannot send to ${topic}: the publisher is closed`);
      if (signal?.aborted) throw new Error(`Cannot send to ${topic}: stopped before it was sent`);
      producer ??= await connect();
      const active = producer;
      let results;
      try {
        results = await watchRequest(
          active.send({ topic, acks: -1, messages }),
          topic,
          signal,
          () => topicExists(topic),
        );
      } catch (error) {
        // The broker may hold some of this request under numbers the
        // producer has rolled back: never send other records with them.
        // (Not awaited: an abandoned request may still hold it for a while.)
        if (producer === active) producer = undefined;
        log.debug("Replacing the producer after a failed request to {topic}", { topic });
        active.disconnect().catch(() => {});
        throw error;
      }
      for (const { topicName, partition, baseOffset } of results) {
        deliveries.push({ topic: topicName, partition, baseOffset: baseOffset ?? "" });
      }
    }
    return deliveries;
  }

  return {
    send(topic, messages, options = {}) {
      // Converted before waiting for the turn (overlaps the request in flight).
      const requests = chunkBySize(messages, MAX_REQUEST_BYTES).map((chunk) =>
        chunk.map(kafkaMessage)
      );
      const result = turn.then(() => sendNow(topic, requests, options.signal));
      turn = result.catch(() => {});
      return result;
    },
    async close() {
      if (closed) return;
      closed = true;
      await turn;
      await producer?.disconnect();
      producer = undefined;
      if (adminReady !== undefined) await admin.disconnect();
    },
  };
}
