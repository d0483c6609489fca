/**
 * The output side: publishing messages to topics, in size-bounded requests,
 * acknowledged by all in-sync replicas, idempotently.
 *
 * Idempotence in kafkajs 2.2.4: the producer gets an id from the broker
 * and numbers its records per partition, so a request retried after a lost
 * response is not written twice. kafkajs does not check
 * `maxInFlightRequests` for an idempotent producer (it has no limit of 5
 * to enforce): it sends one produce request per broker at a time, behind a
 * first-come lock, and rolls a failed request's numbers back. We also set
 * `maxInFlightRequests: 1`, so nothing else overtakes a produce request on
 * its connection. So requests reach each partition in the order their
 * `send()` calls asked, and a song's plays (one key, one partition) keep
 * their order. Only a failed request can be overtaken: a concurrent one
 * takes its turn while it waits to be retried.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Partitioners } from "kafkajs";
import { type KafkaClient, kafkajsOf } from "./client.ts";

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

/** Publishes to Kafka. */
export interface Publisher {
  /**
   * Sends `messages` to `topic` and waits for all in-sync replicas to have
   * them. Large sets go in several requests, in order. Keyed messages go to
   * the partition the key hashes to (murmur2, as the Java client does).
   */
  send(topic: string, messages: readonly PlainMessage[]): Promise<Delivery[]>;
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

/**
 * Connects an idempotent publisher (acks from all in-sync replicas, one
 * request in flight per broker, the default murmur2 partitioner). The
 * client's bounded retries apply: a broker away for longer makes `send()`
 * reject, and the caller decides whether to try again.
 */
export async function openPublisher(kafka: KafkaClient): Promise<Publisher> {
  const producer = kafkajsOf(kafka).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  let closed = false;
  return {
    async send(topic, messages) {
      const deliveries: Delivery[] = [];
      for (const chunk of chunkBySize(messages, MAX_REQUEST_BYTES)) {
        const results = await producer.send({
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
        });
        for (const { topicName, partition, baseOffset } of results) {
          deliveries.push({ topic: topicName, partition, baseOffset: baseOffset ?? "" });
        }
      }
      return deliveries;
    },
    async close() {
      if (closed) return;
      closed = true;
      await producer.disconnect();
    },
  };
}
