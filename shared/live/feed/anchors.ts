/**
 * Anchors: where the dashboard's numbers come from, per partition. BigQuery
 * holds every play the BigQuery consumer committed, so the plays below the
 * consumer group's committed offset are taken from BigQuery (aggregated),
 * and Kafka is read from exactly that offset on. Each play is then counted
 * once, from one side: rows the consumer wrote but has not committed yet sit
 * above the anchor and are left out of BigQuery's answer.
 *
 * A partition with records but without a commit of the group (a dashboard
 * given another group than the consumer's) is anchored on what the table
 * holds: the offset after its largest stored `kafka_offset`. Reading it
 * from its start instead would count, silently, only what Kafka still holds.
 *
 * @module
 */

import { playsTableRef, query, type Warehouse } from "../../bigquery/mod.ts";
import type { CommittedOffset, KafkaAdmin, PartitionOffsets } from "../../kafka/mod.ts";

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
 * past them. A partition without a commit is anchored on `stored`, the
 * next offset after the largest the table holds for it, when given (see
 * {@linkcode storedOffsets}), and at 0 otherwise.
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
  stored: ReadonlyMap<number, bigint> = new Map(),
): PartitionAnchor[] {
  return offsets.map(({ partition, low, high }) => {
    const below = committed.get(partition)?.offset ?? stored.get(partition) ?? 0n;
    const start = below > low ? below : low;
    return { partition, below, start, end: high > start ? high : start };
  }).sort((a, b) => a.partition - b.partition);
}

/**
 * Per partition, the offset after the largest `kafka_offset` the plays
 * table holds: below it, BigQuery has every play the consumer stored (it
 * writes each partition in offset order). One scan of two integer columns.
 */
export async function storedOffsets(warehouse: Warehouse): Promise<Map<number, bigint>> {
  let rows: Record<string, unknown>[];
  try {
    rows = await query(
      warehouse,
      `SELECT kafka_partition AS partition, MAX(kafka_offset) + 1 AS next
       FROM ${playsTableRef(warehouse.config)}
       GROUP BY kafka_partition`,
    );
  } catch (error) {
    if (isNotFound(error)) return new Map(); // no table yet: it holds nothing
    throw error;
  }
  const stored = new Map<number, bigint>();
  for (const row of rows) {
    const partition = Number(row.partition);
    const next = typeof row.next === "number" || typeof row.next === "string"
      ? BigInt(row.next)
      : undefined;
    if (!Number.isSafeInteger(partition) || next === undefined) {
      throw new Error(
        `Cannot read the stored offsets: expected integers, got ${JSON.stringify(row)}`,
      );
    }
    stored.set(partition, next);
  }
  return stored;
}

function isNotFound(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  if (Reflect.get(error, "code") === 404) return true;
  const errors: unknown = Reflect.get(error, "errors");
  return Array.isArray(errors) &&
    errors.some((e) => typeof e === "object" && e !== null && e.reason === "notFound");
}

/** Options of {@linkcode readAnchors}. */
export interface ReadAnchorsOptions {
  /**
   * Where to anchor partitions the group never committed (a dashboard
   * given another group than the consumer's would otherwise replay the
   * whole topic): the table's stored offsets, see {@linkcode storedOffsets}.
   */
  stored?: () => Promise<ReadonlyMap<number, bigint>>;
  /** Told which partitions with records had no commit, and where they were anchored. */
  onUncommitted?: (partitions: PartitionAnchor[]) => void;
  /** Only these partitions (a dashboard sharded by partition); default all. */
  partitions?: readonly number[];
}

/**
 * The entries of `partitions` only (all when undefined); throws when the
 * topic lacks one of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shareOf } from "./anchors.ts";
 * const offsets = [0, 1, 2].map((partition) => ({ partition, low: 0n, high: 5n }));
 * assert.deepEqual(shareOf(offsets, [2, 0]).map((p) => p.partition), [0, 2]);
 * assert.equal(shareOf(offsets, undefined).length, 3);
 * assert.throws(() => shareOf(offsets, [1, 3]), /has no partition 3 \(its partitions: 0-2\)/);
 * ```
 */
export function shareOf<T extends { partition: number }>(
  offsets: readonly T[],
  partitions: readonly number[] | undefined,
): T[] {
  if (partitions === undefined) return [...offsets];
  const missing = partitions.filter((p) => !offsets.some((o) => o.partition === p));
  if (missing.length > 0) {
    throw new Error(
      `the topic has no partition ${missing.join(", ")} (its partitions: 0-${offsets.length - 1})`,
    );
  }
  return offsets.filter((o) => partitions.includes(o.partition));
}

/** Reads the anchors of `topic` for the consumer group `group`. */
export async function readAnchors(
  admin: KafkaAdmin,
  group: string,
  topic: string,
  options: ReadAnchorsOptions = {},
): Promise<PartitionAnchor[]> {
  const committed = await admin.committed(group, topic);
  const offsets = shareOf(await admin.topicOffsets(topic), options.partitions);
  const uncommitted = offsets.filter((p) => !committed.has(p.partition) && p.high > 0n);
  if (uncommitted.length === 0 || options.stored === undefined) {
    return anchorsOf(offsets, committed);
  }
  const anchors = anchorsOf(offsets, committed, await options.stored());
  options.onUncommitted?.(
    anchors.filter((anchor) => uncommitted.some((p) => p.partition === anchor.partition)),
  );
  return anchors;
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
