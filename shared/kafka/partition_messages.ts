/**
 * Placing messages on partitions before they are sent, so that each produce
 * request carries one partition (see publisher.ts for why).
 *
 * @module
 */

import type { Message, PartitionerArgs, PartitionMetadata } from "kafkajs";

/** Chooses a partition for a message (a kafkajs partitioner). */
export type ChoosePartition = (args: PartitionerArgs) => number;

/**
 * Groups `messages` by the partition `choose` gives each, in partition order;
 * each message keeps its order within its partition and is given that
 * partition (`message.partition`), so no later step can move it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Partitioners } from "kafkajs";
 * import { partitionMessages } from "./partition_messages.ts";
 * const partitionMetadata = [0, 1, 2].map((partitionId) => ({
 *   partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1],
 * }));
 * const messages = ["a", "b", "a"].map((key, i) => ({ key, value: `${i}` }));
 * const groups = partitionMessages("t", messages, partitionMetadata, Partitioners.DefaultPartitioner());
 * // murmur2 of the key, as the Java client does: both "a" together, in order.
 * const a = [...groups.values()].find((group) => group[0]?.key === "a");
 * assert.deepEqual(a?.map((message) => message.value), ["0", "2"]);
 * assert.equal(a?.[0]?.partition, a?.[1]?.partition);
 * ```
 */
export function partitionMessages(
  topic: string,
  messages: readonly Message[],
  partitionMetadata: PartitionMetadata[],
  choose: ChoosePartition,
): Map<number, Message[]> {
  if (partitionMetadata.length === 0) {
    throw new Error(`Cannot place messages on the partitions of ${topic}: it has none`);
  }
  const groups = new Map<number, Message[]>();
  for (const message of messages) {
    const partition = choose({ topic, partitionMetadata, message });
    const placed = { ...message, partition };
    const group = groups.get(partition);
    if (group === undefined) groups.set(partition, [placed]);
    else group.push(placed);
  }
  return new Map([...groups].sort(([a], [b]) => a - b));
}

/**
 * `messages`, all placed on `partition`, as one request kafkajs groups in
 * constant time. kafkajs 2.2.4 groups a request's messages by partition with
 * `messages.reduce`, copying a partition's list for every message it adds
 * (quadratic in the request's size: 6 % of the producer's CPU time in a
 * profile); the array returned answers that `reduce` with the one group it
 * is. Every other array method is the array's own. kafkajs is pinned to
 * exactly 2.2.4 in deno.json, since this targets its internals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import group from "kafkajs/src/producer/groupMessagesPerPartition.js";
 * import { onePartitionRequest } from "./partition_messages.ts";
 * const messages = ["a", "b"].map((value) => ({ value, partition: 2 }));
 * const request = onePartitionRequest(2, messages);
 * const partitioner = () => { throw new Error("not asked"); };
 * const grouped = group({ topic: "t", partitionMetadata: [{}], messages: request, partitioner });
 * assert.deepEqual(Object.keys(grouped), ["2"]);
 * assert.deepEqual(grouped[2].map((m: { value: string }) => m.value), ["a", "b"]);
 * ```
 */
export function onePartitionRequest<T extends Message>(
  partition: number,
  messages: readonly T[],
): T[] {
  const request = [...messages];
  for (const message of request) {
    if (message.partition !== partition) {
      throw new Error(
        `Cannot send a request for partition ${partition}: a message is placed on ${message.partition}`,
      );
    }
  }
  Object.defineProperty(request, "reduce", {
    value: () => ({ [partition]: request }),
    enumerable: false,
  });
  return request;
}
