/**
 * The output side: publishing messages to topics, in size-bounded requests,
 * acknowledged by all in-sync replicas, idempotently.
 *
 * Idempotence in kafkajs 2.2.4: the producer gets an id from the broker and
 * numbers its records per partition; the broker answers a batch whose
 * numbers it already holds with success and the offset of the batch it
 * holds, without writing it again. So a request retried unchanged, with the
 * same numbers, after a lost response is written once.
 *
 * kafkajs' `send()` breaks that when a request spans partitions led by
 * several brokers and a leader moves (a broker dies, an election):
 * - it keeps the answers per broker, not per partition: when the request to
 *   broker B failed and, on kafkajs' own retry, B's partitions are led by A,
 *   which had already answered for its own share, the retry sends nothing
 *   to A and returns A's old answer. B's records were never written, and
 *   `send()` reports them delivered (the losses of a leader move);
 * - when a request to one broker fails (one failed partition fails all of
 *   it), it rolls the numbers of *all* its partitions back, also of those
 *   the broker wrote; a later request then repeats those numbers with other
 *   records, which the broker takes for the written batch and acknowledges
 *   unwritten (lost) or refuses (`OUT_OF_ORDER_SEQUENCE_NUMBER`);
 * - a broker request still in flight when another fails is sent again by
 *   the retry with new numbers (duplicates).
 *
 * So this publisher gives kafkajs requests of **one partition** only: it
 * places the messages itself (the default partitioner: murmur2 of the key,
 * as the Java client does, round-robin without one) and sends each
 * partition's share as its own `send()`, the partitions of one call at once
 * (through four producers, partition p always through producer p % 4:
 * kafkajs holds one request per broker and producer, so partitions led by
 * one broker still go side by side). A request for one partition goes to
 * one broker: kafkajs' retries resend it whole, with the numbers it rolled
 * back, to whichever broker leads then, which either holds it (and says so)
 * or writes it. When kafkajs gives up
 * (a leader away longer than its retries), the publisher retries the same
 * request on the same producer, before anything else goes to that partition,
 * so the numbers again match what the broker may hold. Only when the
 * numbers are in doubt (a request abandoned in flight, or the broker
 * rejecting the producer's numbers or id) is the producer replaced: the next
 * request gets a new producer id, so it can never be taken for an unknown
 * one. A resend after that may write twice what the broker already held; it
 * never loses.
 *
 * Calls are placed on partitions in call order, and each partition gets one
 * request at a time: the requests of a publisher reach each partition in
 * the order of the `send()` calls, and a song's plays (one key, one
 * partition) keep their order. A partition does not wait for the others: a
 * call's share of partition 1 may go while the previous call's share of
 * partition 2 is still in flight. A failed `send()` is overtaken by the
 * sends queued behind it when its caller retries it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type Message as KafkaMessage, type PartitionMetadata, type Producer } from "kafkajs";
import { type KafkaClient, kafkajsOf } from "./client.ts";
import { isTransientKafkaError, kafkaErrorType, KafkaTopicNotFoundError } from "./errors.ts";
import { onePartitionRequest, partitionMessages } from "./partition_messages.ts";
import { KeyPartitioner } from "./key_partitioner.ts";
import { logger, sleep } from "../ops/mod.ts";

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
   * Once aborted, the send fails at once: a share still waiting for its
   * partition sends nothing; a request in flight is abandoned (the broker may still
   * write it) and the publisher replaces its producer.
   */
  signal?: AbortSignal | undefined;
}

/** Publishes to Kafka. */
export interface Publisher {
  /**
   * Sends `messages` to `topic` and waits for all in-sync replicas to have
   * them: a request per partition (several, in order, for large sets), the
   * partitions side by side; each partition's requests are sent one at a
   * time, in call order (a call's share of one partition waits for the
   * earlier calls' shares of that partition only).
   * Keyed messages go to the partition the key hashes to (murmur2, as the
   * Java client does), others round-robin. A request the client gave up on
   * (a leader away for long) is sent again until it succeeds or `signal`
   * aborts.
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

type Bytes = Uint8Array | string;

function byteLength(value: Bytes | readonly Bytes[] | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === "string") return value.length * 3;
  if (value instanceof Uint8Array) return value.byteLength;
  return value.reduce((sum: number, part) => sum + byteLength(part), 0);
}

/** What {@linkcode messageSize} measures: ours, or kafkajs' own message type. */
export interface SizedMessage {
  key?: Bytes | null | undefined;
  value: Bytes | null;
  headers?: Readonly<Record<string, Bytes | readonly Bytes[] | undefined>> | undefined;
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
export function messageSize(message: SizedMessage): number {
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
export function chunkBySize<T extends SizedMessage>(
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

/** Broker errors that put the producer's numbers or id in doubt: only a new producer helps. */
const SEQUENCE_ERRORS = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "DUPLICATE_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING",
]);

/** Pause before the publisher retries a request kafkajs gave up on. */
const RETRY_AFTER_MS = 1_000;

/** Producers a publisher sends through (each partition always through the same one). */
const PRODUCERS = 4;

/** How long a topic's partition list is used before it is asked again. */
const PARTITIONS_MAX_AGE_MS = 60_000;

/**
 * Connects an idempotent publisher (acks from all in-sync replicas, one
 * request per partition, the default murmur2 partitioner). A request the
 * client's bounded retries give up on (a leader away for long) is retried
 * until it succeeds, `signal` aborts or the publisher closes; errors that
 * would fail the same way again (too large, not allowed, no such topic) make
 * `send()` reject, and the caller decides (see the module notes).
 */
export async function openPublisher(kafka: KafkaClient): Promise<Publisher> {
  const client = kafkajsOf(kafka);
  async function connect(): Promise<Producer> {
    const created = client.producer({
      // Messages arrive with their partition set (partitionMessages).
      createPartitioner: KeyPartitioner,
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await created.connect();
    return created;
  }
  // Partition p always goes through producer p % PRODUCERS (one lock per
  // broker each: partitions of one broker are sent side by side). A lane is
  // undefined once its numbers are in doubt: its next request connects a new producer.
  const lanes: (Promise<Producer> | undefined)[] = new Array(PRODUCERS).fill(undefined);
  lanes[0] = Promise.resolve(await connect());
  // Replaced producers, disconnected once the call that replaced them ends.
  const retired = new Set<Promise<Producer>>();
  function retire(lane: number, active: Promise<Producer>, topic: string): void {
    if (lanes[lane] !== active) return;
    lanes[lane] = undefined;
    retired.add(active);
    log.debug("Replacing a producer after a request to {topic} in doubt", { topic });
  }
  function disconnectRetired(): void {
    const done = [...retired];
    retired.clear();
    // An abandoned request may hold a producer for a while: not awaited.
    for (const old of done) old.then((p) => p.disconnect()).catch(() => {});
  }
  function producerOf(lane: number): Promise<Producer> {
    const pending = lanes[lane] ?? connect();
    lanes[lane] = pending;
    pending.catch(() => {
      if (lanes[lane] === pending) lanes[lane] = undefined;
    });
    return pending;
  }

  // Asked only about requests left unanswered for a while, and for partitions.
  const admin = client.admin();
  let adminReady: Promise<void> | undefined;
  async function connectedAdmin() {
    adminReady ??= admin.connect().catch((error) => {
      adminReady = undefined;
      throw error;
    });
    await adminReady;
    return admin;
  }
  async function topicExists(topic: string): Promise<boolean> {
    return (await (await connectedAdmin()).listTopics()).includes(topic);
  }
  const partitionLists = new Map<string, { partitions: PartitionMetadata[]; until: number }>();
  async function partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const known = partitionLists.get(topic);
    if (known !== undefined && known.until > Date.now()) return known.partitions;
    // kafkajs retries a missing topic's metadata for its whole retry budget.
    if (!await topicExists(topic)) throw new KafkaTopicNotFoundError(topic);
    const metadata = await (await connectedAdmin()).fetchTopicMetadata({ topics: [topic] });
    const partitions = metadata.topics.find((entry) => entry.name === topic)?.partitions ?? [];
    if (partitions.length === 0) throw new KafkaTopicNotFoundError(topic);
    partitionLists.set(topic, { partitions, until: Date.now() + PARTITIONS_MAX_AGE_MS });
    return partitions;
  }
  const choose = KeyPartitioner();

  let closed = false;

  function checkGoing(topic: string, signal: AbortSignal | undefined): void {
    if (closed) throw new Error(`Cannot send to ${topic}: the publisher is closed`);
    if (signal?.aborted) throw new Error(`Cannot send to ${topic}: stopped before it was sent`);
  }

  /** One partition's messages, request by request, each until it is acknowledged. */
  async function sendPartition(
    topic: string,
    { partition, messages, signal }: {
      partition: number;
      messages: readonly KafkaMessage[];
      signal: AbortSignal | undefined;
    },
  ): Promise<Delivery[]> {
    const lane = partition % PRODUCERS;
    const deliveries: Delivery[] = [];
    for (const request of chunkBySize(messages, MAX_REQUEST_BYTES)) {
      for (let attempt = 1;; attempt++) {
        checkGoing(topic, signal);
        const active = producerOf(lane);
        let results;
        try {
          results = await watchRequest(
            active.then((p) =>
              p.send({ topic, acks: -1, messages: onePartitionRequest(partition, request) })
            ),
            topic,
            signal,
            () => topicExists(topic),
          );
        } catch (error) {
          const type = kafkaErrorType(error);
          if (signal?.aborted || closed || error instanceof KafkaTopicNotFoundError) {
            // Abandoned in flight: the broker may still write it under
            // numbers that another request would then repeat.
            retire(lane, active, topic);
            throw error;
          }
          if (!isTransientKafkaError(error)) throw error;
          if (type !== undefined && SEQUENCE_ERRORS.has(type)) retire(lane, active, topic);
          // kafkajs gave up after its retries and rolled this request's numbers
          // back: the same request again, before anything else for this
          // partition, carries the same numbers.
          log.debug("Retrying a request to {topic} (attempt {attempt}): {error}", {
            topic,
            attempt,
            error: error instanceof Error ? error.message : String(error),
          });
          await sleep(RETRY_AFTER_MS, signal);
          continue;
        }
        for (const { topicName, partition, baseOffset } of results) {
          deliveries.push({ topic: topicName, partition, baseOffset: baseOffset ?? "" });
        }
        break;
      }
    }
    return deliveries;
  }

  /**
   * Each partition's requests, one after another in call order: topic and
   * partition → the settling of the last one queued.
   */
  const queues = new Map<string, Promise<unknown>>();
  /** Calls placed on partitions one at a time, in call order. */
  let placing: Promise<unknown> = Promise.resolve();
  /** Partition shares being sent; replaced producers are disconnected once none is. */
  let active = 0;

  function enqueue(
    topic: string,
    partition: number,
    messages: readonly KafkaMessage[],
    signal: AbortSignal | undefined,
  ): Promise<Delivery[]> {
    const key = `${topic}\u0000${partition}`;
    const sent = (queues.get(key) ?? Promise.resolve()).then(async () => {
      active++;
      try {
        return await sendPartition(topic, { partition, messages, signal });
      } finally {
        if (--active === 0) disconnectRetired();
      }
    });
    const settled = sent.catch(() => {});
    queues.set(key, settled);
    settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    return sent;
  }

  return {
    send(topic, messages, options = {}) {
      // Converted before waiting (overlaps the requests in flight).
      const converted = messages.map(kafkaMessage);
      // Placed in call order; each partition's share then waits only for the
      // earlier shares of that partition, not for the other partitions.
      const placed = placing.then(async () => {
        checkGoing(topic, options.signal);
        const groups = partitionMessages(topic, converted, await partitionsOf(topic), choose);
        return [...groups].map(([partition, group]) =>
          enqueue(topic, partition, group, options.signal)
        );
      });
      placing = placed.catch(() => {});
      return placed.then(async (shares) => {
        const sent = await Promise.allSettled(shares);
        const failed = sent.find((result) => result.status === "rejected");
        if (failed !== undefined) throw failed.reason;
        return sent.flatMap((result) => result.status === "fulfilled" ? result.value : []);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await placing;
      await Promise.all(queues.values());
      const last = lanes.splice(0, lanes.length, ...new Array(PRODUCERS).fill(undefined));
      await Promise.all(last.map((lane) => lane?.then((p) => p.disconnect(), () => {})));
      if (adminReady !== undefined) await admin.disconnect();
    },
  };
}
