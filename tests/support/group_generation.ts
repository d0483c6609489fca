/**
 * A consumer group's generation, as its coordinator recorded it: the number
 * the group gets each time a rebalance completes. kafkajs groups use the
 * classic group protocol, whose DescribeGroups answer has no generation;
 * the coordinator writes each completed generation of a group (protocol,
 * generation, leader, members) to the group's partition of the internal
 * `__consumer_offsets` topic, and {@linkcode groupGeneration} reads it there.
 *
 * @module
 */

import { type KafkaClient } from "../../shared/kafka/client.ts";
import { createAdmin } from "../../shared/kafka/admin.ts";
import { readToEnd } from "../../shared/kafka/reader.ts";

const OFFSETS_TOPIC = "__consumer_offsets";

/**
 * The partition of `__consumer_offsets` that holds `group`'s records: the
 * Java hash of the group id (over UTF-16 code units), made non-negative,
 * modulo the partition count (what the coordinator computes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offsetsPartitionFor } from "./group_generation.ts";
 * // "group".hashCode() is 98629247 in Java.
 * assert.equal(offsetsPartitionFor("group", 50), 98629247 % 50);
 * ```
 */
export function offsetsPartitionFor(group: string, partitions: number): number {
  let hash = 0;
  for (let i = 0; i < group.length; i++) hash = (Math.imul(31, hash) + group.charCodeAt(i)) | 0;
  const positive = hash === -2147483648 ? 0 : Math.abs(hash);
  return positive % partitions;
}

/** What a group metadata record of `__consumer_offsets` says. */
export interface GroupMetadataRecord {
  group: string;
  /** Undefined for a tombstone (the group was deleted). */
  generation: number | undefined;
}

/** Reads the fields of a record, big-endian, as the Kafka protocol writes them. */
function fieldReader(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const decoder = new TextDecoder();
  return {
    int16() {
      const value = view.getInt16(at);
      at += 2;
      return value;
    },
    int32() {
      const value = view.getInt32(at);
      at += 4;
      return value;
    },
    /** A string: int16 length (classic) or unsigned varint length + 1 (flexible). */
    string(compact: boolean): string | null {
      let length: number;
      if (compact) {
        let value = 0;
        for (let shift = 0;; shift += 7) {
          const byte = view.getUint8(at++);
          value |= (byte & 0x7f) << shift;
          if ((byte & 0x80) === 0) break;
        }
        length = value - 1;
      } else {
        length = this.int16();
      }
      if (length < 0) return null;
      const text = decoder.decode(bytes.subarray(at, at + length));
      at += length;
      return text;
    },
  };
}

/**
 * Decodes a `__consumer_offsets` record if it is a classic group's metadata
 * (key version 2); undefined for offset commits and other record kinds.
 * Value versions 0 to 3 are classic, 4 is flexible (compact strings).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeGroupMetadata } from "./group_generation.ts";
 * const key = new Uint8Array([0, 2, 0, 1, 0x67]); // version 2, group "g"
 * const value = new Uint8Array([0, 3, 0, 1, 0x63, 0, 0, 0, 7]); // version 3, "c", generation 7
 * assert.deepEqual(decodeGroupMetadata(key, value), { group: "g", generation: 7 });
 * assert.deepEqual(decodeGroupMetadata(key, null), { group: "g", generation: undefined });
 * assert.equal(decodeGroupMetadata(new Uint8Array([0, 1, 0, 1, 0x67]), value), undefined);
 * ```
 */
export function decodeGroupMetadata(
  key: Uint8Array,
  value: Uint8Array | null,
): GroupMetadataRecord | undefined {
  if (key.byteLength < 4) return undefined;
  const keyFields = fieldReader(key);
  if (keyFields.int16() !== 2) return undefined;
  const group = keyFields.string(false);
  if (group === null) return undefined;
  if (value === null || value.byteLength === 0) return { group, generation: undefined };
  const fields = fieldReader(value);
  const version = fields.int16();
  if (version < 0 || version > 4) return undefined;
  fields.string(version >= 4); // protocol type
  return { group, generation: fields.int32() };
}

/**
 * The generation `group`'s coordinator last recorded for it; undefined when
 * it recorded none (the group never completed a rebalance, or was deleted).
 * Reads the group's partition of `__consumer_offsets` to its current end.
 */
export async function groupGeneration(
  kafka: KafkaClient,
  group: string,
): Promise<number | undefined> {
  const admin = createAdmin(kafka);
  let offsets;
  try {
    offsets = await admin.topicOffsets(OFFSETS_TOPIC);
  } finally {
    await admin.close();
  }
  const partition = offsetsPartitionFor(group, offsets.length);
  // Every other partition starts at its end: only the group's one is read.
  const from = new Map(
    offsets.filter((p) => p.partition !== partition).map((p) => [p.partition, p.high]),
  );
  let generation: number | undefined;
  await readToEnd(kafka, {
    topic: OFFSETS_TOPIC,
    from,
    onBatch: (records) => {
      for (const record of records) {
        if (record.key === null) continue;
        const metadata = decodeGroupMetadata(record.key, record.value);
        if (metadata?.group === group) generation = metadata.generation;
      }
      return Promise.resolve();
    },
  });
  return generation;
}

/**
 * The state of `group` as the coordinator reports it (Dead when unknown), its
 * members, and its generation as recorded in `__consumer_offsets` (-1 when
 * none is recorded yet).
 */
export async function groupNow(
  kafka: KafkaClient,
  group: string,
): Promise<{ state: string; members: number; generation: number }> {
  const admin = createAdmin(kafka);
  try {
    const state = await admin.groupState(group);
    return {
      state: state?.state ?? "Dead",
      members: state?.members ?? 0,
      generation: (await groupGeneration(kafka, group)) ?? -1,
    };
  } finally {
    await admin.close();
  }
}
