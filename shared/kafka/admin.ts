/**
 * Topic and group administration in plain data: topics and their offsets,
 * a group's committed offsets (with their commit metadata), its lag.
 *
 * @module
 */

import { type KafkaClient, kafkajsOf } from "./client.ts";
import { errorMessage } from "../errors.ts";
import { logger } from "../ops/mod.ts";

const log = logger("kafka");

/** Earliest retained (`low`) and next (`high`) offset of one partition. */
export interface PartitionOffsets {
  partition: number;
  low: bigint;
  high: bigint;
}

/** A group's committed position in one partition. */
export interface CommittedOffset {
  /** Offset of the next message the group will read. */
  offset: bigint;
  /** The string committed with it (see `Source.commit`), or null. */
  metadata: string | null;
}

/** Committed offset and end offset of one partition. */
export interface PartitionLag {
  partition: number;
  /** Where the group resumes: its committed offset, or the low watermark if that is later. */
  committed: bigint;
  end: bigint;
  lag: bigint;
}

/** A consumer group's state and member count. */
export interface GroupState {
  /** `Empty`, `Stable`, `PreparingRebalance`, `Dead`, ... */
  state: string;
  members: number;
}

/** Administration of topics and groups; connects on first use. */
export interface KafkaAdmin {
  /** Names of the topics. */
  listTopics(): Promise<string[]>;
  /** Offsets of each partition of `topic`, by partition number. */
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** Committed offsets of `group` on `topic`, with metadata (partitions without one are left out). */
  committed(group: string, topic: string): Promise<Map<number, CommittedOffset>>;
  /** Lag of `group` on `topic`, per partition (end offset minus committed or low watermark). */
  groupLag(group: string, topic: string): Promise<PartitionLag[]>;
  /** State of `group`; undefined when the broker does not know it. */
  groupState(group: string): Promise<GroupState | undefined>;
  /** The largest record batch `topic` takes (its `max.message.bytes`, as the broker resolves it). */
  maxMessageBytes(topic: string): Promise<number>;
  /** Deletes consumer groups. */
  deleteGroups(groups: string[]): Promise<void>;
  /** Deletes topics (waits up to 30 s). */
  deleteTopics(topics: string[]): Promise<void>;
  /** Deletes the records of `topic` below `before` (offset per partition), as retention does. */
  deleteRecords(topic: string, before: ReadonlyMap<number, bigint>): Promise<void>;
  /** Disconnects (safe to call twice, or without any use). */
  close(): Promise<void>;
}

/**
 * The lag of each partition given its offsets and the group's committed
 * offsets. Reading starts at the earliest retained record, so a partition
 * without a commit, or with one below it (retention deleted the records),
 * counts from its low watermark: records deleted before anyone read them
 * are not lag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lagOf } from "./admin.ts";
 * const lag = lagOf([
 *   { partition: 0, low: 0n, high: 10n },
 *   { partition: 1, low: 0n, high: 4n },
 *   { partition: 2, low: 6n, high: 6n }, // all deleted, never read
 *   { partition: 3, low: 5n, high: 9n }, // committed 2, then 0..4 deleted
 * ], new Map([[0, 7n], [3, 2n]]));
 * assert.deepEqual(lag.map((p) => p.lag), [3n, 4n, 0n, 4n]);
 * ```
 */
export function lagOf(
  offsets: readonly PartitionOffsets[],
  committed: ReadonlyMap<number, bigint>,
): PartitionLag[] {
  return offsets.map(({ partition, low, high: end }) => {
    const done = committed.get(partition) ?? low;
    const at = done > low ? done : low;
    return { partition, committed: at, end, lag: end > at ? end - at : 0n };
  }).sort((a, b) => a.partition - b.partition);
}

/** kafkajs' `ConfigResourceTypes.TOPIC` (the enum is not exported as a value under Deno). */
const TOPIC_RESOURCE = 2;

/**
 * Creates an admin client for `kafka`. It connects on first use and stays
 * connected (reconnecting as needed) until `close()`.
 */
export function createAdmin(kafka: KafkaClient): KafkaAdmin {
  const admin = kafkajsOf(kafka).admin();
  let connecting: Promise<void> | undefined;
  const ready = (): Promise<void> =>
    connecting ??= admin.connect().catch((error) => {
      connecting = undefined;
      throw error;
    });

  async function topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    await ready();
    return (await admin.fetchTopicOffsets(topic))
      .map((entry) => ({
        partition: entry.partition,
        low: BigInt(entry.low),
        high: BigInt(entry.high),
      }))
      .sort((a, b) => a.partition - b.partition);
  }

  async function committed(group: string, topic: string): Promise<Map<number, CommittedOffset>> {
    await ready();
    const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const offsets = new Map<number, CommittedOffset>();
    for (const { partition, offset, metadata } of entry?.partitions ?? []) {
      if (offset !== "-1") offsets.set(partition, { offset: BigInt(offset), metadata });
    }
    return offsets;
  }

  return {
    async listTopics() {
      await ready();
      return await admin.listTopics();
    },
    topicOffsets,
    committed,
    async groupLag(group, topic) {
      const [offsets, done] = await Promise.all([topicOffsets(topic), committed(group, topic)]);
      return lagOf(offsets, new Map([...done].map(([partition, c]) => [partition, c.offset])));
    },
    async groupState(group) {
      await ready();
      const [found] = (await admin.describeGroups([group])).groups;
      return found === undefined
        ? undefined
        : { state: found.state, members: found.members.length };
    },
    async maxMessageBytes(topic) {
      await ready();
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ["max.message.bytes"] }],
      });
      const entry = resources[0]?.configEntries.find((e) => e.configName === "max.message.bytes");
      const bytes = Number(entry?.configValue);
      if (!Number.isSafeInteger(bytes) || bytes <= 0) {
        throw new Error(
          `Cannot read max.message.bytes of topic ${topic}: got ${
            JSON.stringify(entry?.configValue)
          }`,
        );
      }
      return bytes;
    },
    async deleteGroups(groups) {
      await ready();
      await admin.deleteGroups(groups);
    },
    async deleteTopics(topics) {
      await ready();
      await admin.deleteTopics({ topics, timeout: 30_000 });
    },
    async deleteRecords(topic, before) {
      await topicOffsets(topic); // loads the topic's metadata, which kafkajs needs here
      const partitions = [...before].map(([partition, offset]) => ({
        partition,
        offset: String(offset),
      }));
      await admin.deleteTopicRecords({ topic, partitions });
    },
    async close() {
      if (connecting === undefined) return;
      connecting = undefined;
      await admin.disconnect();
    },
  };
}

/** The broker's reasons in a failed topic creation (kafkajs lists them in `errors`). */
function creationErrors(error: unknown): string {
  const errors = typeof error === "object" && error !== null && "errors" in error &&
      Array.isArray(error.errors)
    ? error.errors
    : [error];
  return errors.map(errorMessage).join("; ");
}

/** Whether `topic` exists with a leader for every partition within `ms` (asked every 250 ms). */
async function leadersWithin(
  admin: ReturnType<ReturnType<typeof kafkajsOf>["admin"]>,
  topic: string,
  ms: number,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await admin.listTopics()).includes(topic)) {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const found = topics.find((entry) => entry.name === topic);
        if (
          found !== undefined && found.partitions.length > 0 &&
          found.partitions.every((partition) => partition.leader >= 0)
        ) return true;
      }
    } catch {
      // Not there yet: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/**
 * Creates `topic` with `partitions` partitions (and topic `config`) unless it
 * exists.
 * Returns true when it was created.
 */
export async function ensureTopic(
  kafka: KafkaClient,
  topic: string,
  partitions: number,
  config: Record<string, string> = {},
): Promise<boolean> {
  const admin = kafkajsOf(kafka).admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return false;
    // Another script may create it at the same moment: kafkajs then answers
    // false ("already exists"), and the broker's error is logged at debug.
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic,
        numPartitions: partitions,
        replicationFactor: -1,
        configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
      }],
    }).catch(async (error: unknown) => {
      // A broker that has just started may create the topic and then not
      // yet serve its metadata ("does not host this topic-partition"): once
      // the topic is listed, wait for its leaders rather than fail.
      if (await leadersWithin(admin, topic, 30_000)) return true;
      throw new Error(`Cannot create topic ${topic}: ${creationErrors(error)}`, { cause: error });
    });
    if (created) log.info("Created topic {topic}", { topic, partitions });
    return created;
  } finally {
    await admin.disconnect();
  }
}
