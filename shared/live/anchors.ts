/**
 * Anchors: where the dashboard's numbers come from, per partition. BigQuery
 * holds every play the BigQuery consumer committed, so the plays below the
 * consumer group's committed offset are taken from BigQuery (aggregated),
 * and Kafka is read from exactly that offset on. Each play is then counted
 * once, from one side: rows the consumer wrote but has not committed yet sit
 * above the anchor and are left out of BigQuery's answer.
 *
 * @module
 */

import type { CommittedOffset, KafkaAdmin, PartitionOffsets } from "../kafka/mod.ts";

/** The split of one partition between BigQuery and Kafka. */
export interface PartitionAnchor {
  partition: number;
  /**
   * BigQuery's share: plays with `kafka_offset < below` (the committed
   * offset; 0 when the group never committed).
   */
  below: bigint;
  /**
   * First offset read from Kafka: `below`, or the earliest retained offset
   * when retention already deleted the records from `below` on.
   */
  start: bigint;
  /** End offset when anchored: reading up to it is catching up. */
  end: bigint;
}

/**
 * Anchors from a topic's offsets and a group's committed offsets. Read the
 * committed offsets first: the end offsets read afterwards are then at or
 * past them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anchorsOf } from "./anchors.ts";
 * const anchors = anchorsOf(
 *   [{ partition: 0, low: 0n, high: 10n }, { partition: 1, low: 5n, high: 9n }],
 *   new Map([[0, { offset: 7n, metadata: null }], [1, { offset: 2n, metadata: null }]]),
 * );
 * assert.deepEqual(anchors, [
 *   { partition: 0, below: 7n, start: 7n, end: 10n },
 *   { partition: 1, below: 2n, start: 5n, end: 9n }, // retention deleted 2..4
 * ]);
 * ```
 */
export function anchorsOf(
  offsets: readonly PartitionOffsets[],
  committed: ReadonlyMap<number, CommittedOffset>,
): PartitionAnchor[] {
  return offsets.map(({ partition, low, high }) => {
    const below = committed.get(partition)?.offset ?? 0n;
    const start = below > low ? below : low;
    return { partition, below, start, end: high > start ? high : start };
  }).sort((a, b) => a.partition - b.partition);
}

/** Reads the anchors of `topic` for the consumer group `group`. */
export async function readAnchors(
  admin: KafkaAdmin,
  group: string,
  topic: string,
): Promise<PartitionAnchor[]> {
  const committed = await admin.committed(group, topic);
  return anchorsOf(await admin.topicOffsets(topic), committed);
}

/**
 * Whether BigQuery holds anything below the anchors (some group commit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasHistory } from "./anchors.ts";
 * assert.equal(hasHistory([{ partition: 0, below: 0n, start: 0n, end: 4n }]), false);
 * assert.equal(hasHistory([{ partition: 0, below: 3n, start: 3n, end: 4n }]), true);
 * ```
 */
export function hasHistory(anchors: readonly PartitionAnchor[]): boolean {
  return anchors.some((anchor) => anchor.below > 0n);
}

/**
 * The anchors as text for logs and `/healthz`: `partition:below` each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeAnchors } from "./anchors.ts";
 * assert.equal(describeAnchors([{ partition: 0, below: 7n, start: 7n, end: 9n }]), "0:7");
 * ```
 */
export function describeAnchors(anchors: readonly PartitionAnchor[]): string {
  return anchors.map((anchor) => `${anchor.partition}:${anchor.below}`).join(" ");
}
