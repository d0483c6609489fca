/**
 * What a partition writer is given and what it offers: its Kafka and
 * BigQuery sides, the hooks for logs and metrics, and the running writer.
 *
 * @module
 */

import type { BackoffOptions } from "../../ops/mod.ts";
import type { Destination, TableCheck } from "../../bigquery/mod.ts";
import type { OutgoingMessage, SourceMessage } from "../../dlq/mod.ts";
import type { FlushLimits } from "../batcher.ts";
import type { Decoder, WriterStats } from "../sink.ts";
import type { StreamBudget } from "../stream_budget.ts";
import type { TableColumns } from "./table_columns.ts";

/** How old the table's columns may get before a writer reads them again, unless configured. */
export const DEFAULT_SCHEMA_CHECK_MS = 30_000;

/**
 * How often a writer whose commits are on hold (a commit refused for group
 * membership, or its stream finalized by someone else) reads the group's
 * position when no rebalance comes, unless configured.
 */
export const DEFAULT_HOLD_CHECK_MS = 5_000;

/** Why the destination cannot take rows (a metrics label). */
export type BlockReason = "table-missing" | "permission-denied" | "schema-mismatch" | "refused";

/** A lasting problem with the destination. */
export interface Blocked {
  reason: BlockReason;
  /** What BigQuery said, for people. */
  detail: string;
}

/** The group's committed position of a partition. */
export interface CommittedPosition {
  offset: bigint;
  metadata: string | null;
}

/** What a writer does with Kafka for its partition. */
export interface PartitionIO {
  /** The group's committed offset and metadata (undefined: never committed). */
  committed(): Promise<CommittedPosition | undefined>;
  /** Commits `nextOffset` with `metadata`. */
  commit(nextOffset: bigint, metadata: string | undefined): Promise<void>;
  /**
   * The partition's log start offset (its earliest retained record): tells
   * a gap that retention made from a stale batch. Without it every gap is
   * taken for a stale batch.
   */
  logStart?(): Promise<bigint>;
  /** Makes the consumer fetch the partition again from `offset` (after a stale batch). */
  seek?(offset: bigint): void;
}

/** Where a batch given to {@linkcode PartitionWriter.add} comes from. */
export interface AddOptions {
  /**
   * The offset the batch was fetched from (default: its first message's).
   * Messages between it and the first message are not in the log (control
   * records, compaction), so such a batch follows on from that offset.
   */
  fetchedFrom?: bigint;
}

/** Hooks for logs and metrics. */
export interface WriterEvents {
  /** An append of `rows` rows was acknowledged after `millis` ms. */
  stored?(rows: number, millis: number): void;
  /** An append was acknowledged and not yet committed: the crash window. */
  acknowledged?(partition: number): void;
  /** `nextOffset` was committed; `highWatermark` is the partition's end as last fetched. */
  committed?(partition: number, nextOffset: bigint, highWatermark: bigint): void;
  /** A retry is about to wait `delayMs`. */
  retry?(what: RetryWhat, error: unknown, attempt: number, delayMs: number): void;
  /** The partition waits for a transient failure to pass (true), or works again (false). */
  backoff?(partition: number, waiting: boolean): void;
  /** The destination is unusable (a problem), or usable again (undefined). */
  blocked?(partition: number, problem: Blocked | undefined): void;
  /** The writer failed for good (a Kafka error that will not pass). */
  failed?(partition: number, error: unknown): void;
  /** A write stream is about to be created (`probe`: a PENDING one to find refused rows). */
  streamCreated?(partition: number, kind: "committed" | "probe"): void;
}

/** What a retry is about. */
export type RetryWhat = "insert" | "dead-letter" | "commit";

/** The table as every partition's writer sees it. */
export interface TableState {
  /** Creation time of the table as last seen (epoch ms). */
  createdAt: number | undefined;
  /** Looks the table up, remembering its creation time. */
  check(): Promise<TableCheck>;
  /** Creates the table again, once however many writers ask at the same time. */
  recreate(): Promise<void>;
}

/** What every partition's writer shares. */
export interface WriterContext {
  /** Source topic (dead-letter headers, derived event ids). */
  topic: string;
  destination: Pick<
    Destination,
    | "exactlyOnce"
    | "openStream"
    | "tableColumns"
    | "addColumns"
    | "openProbe"
    | "finalizeStream"
    | "storedOffsets"
    | "isTransient"
    | "table"
  >;
  table: TableState;
  /** The table's columns, shared by every partition's writer (default: the writer's own). */
  columns?: TableColumns;
  /** Whether a missing table may be created again. */
  createTable: boolean;
  stats: WriterStats;
  limits: FlushLimits & {
    /** Appends in flight per partition. */
    concurrency: number;
  };
  /** Publishes dead letters; resolves once Kafka acknowledged them. */
  publish(letters: OutgoingMessage[]): Promise<void>;
  /**
   * Whether a commit failed because this member's place in the group changed
   * (then commits wait until {@linkcode PartitionWriter.keep} confirms the
   * partition is still this writer's, or the writer stops). Default: never.
   */
  isMembershipLost?(error: unknown): boolean;
  /** Whether a Kafka error (dead letters, commits, lookups) is worth retrying. */
  isTransientKafka(error: unknown): boolean;
  events?: WriterEvents;
  /** Backoff of retries (default 200 ms doubling to 10 s). */
  backoff?: BackoffOptions;
  /** Backoff while blocked (default 1 s doubling to 15 s). */
  blockedBackoff?: BackoffOptions;
  /** Probe appends before concluding that every row of an append is refused (default 64). */
  probeCap?: number;
  /** Ingestion time (default: now). */
  now?: () => Date;
  /** Turns messages into rows or dead letters; its version goes into each marker (default: the play decoder). */
  decoder?: Decoder;
  /**
   * How old the table's columns may get before a writer reads them again
   * (default {@linkcode DEFAULT_SCHEMA_CHECK_MS}): a column dropped or
   * retyped by hand is noticed within this time even when no append fails.
   */
  schemaCheckMs?: number;
  /** See {@linkcode DEFAULT_HOLD_CHECK_MS}. */
  holdCheckMs?: number;
  /** This partition's allowance of write stream creations (default: unlimited). */
  streamBudget?: StreamBudget;
}

/** A running writer for one partition. */
export interface PartitionWriter {
  readonly partition: number;
  /**
   * Queues messages fetched from the partition (in offset order). Only
   * messages that follow on from the committed offset read at start are
   * taken; a batch that leaves a gap is held until the writer knows whether
   * retention made it (then it is taken), or whether the batch is stale,
   * fetched before a rebalance from an older position (then it is dropped
   * and the partition is fetched again from the next offset to store).
   */
  add(messages: readonly SourceMessage[], highWatermark: bigint, options?: AddOptions): void;
  /** Bytes of messages read and not yet committed. */
  readonly heldBytes: number;
  /** Messages read and not yet committed. */
  readonly held: number;
  /** Writes and commits everything queued now, without waiting for fuller appends. */
  drain(): Promise<void>;
  /** Drains, finalizes the stream, and stops. */
  close(): Promise<void>;
  /**
   * After a rebalance that left this partition here: holds commits while it
   * checks that the group's committed position is still this writer's last
   * commit (nobody else owned the partition meanwhile). Resolves false when
   * it is not, having stopped the writer first (so no commit it held goes
   * out): it must be replaced by one that resumes from the group's position.
   */
  keep(): Promise<boolean>;
  /** Stops at once (revoked, or given up): nothing more is appended or committed. */
  stop(): Promise<void>;
  /** Resolves once the writer stopped. */
  readonly stopped: Promise<void>;
}
