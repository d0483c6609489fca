/**
 * The one state of a partition writer, in the open: the messages it holds
 * (`units`, of which the first `sent` are appended or settled), the append
 * window on the current stream, what resuming found stored (`skip` by count,
 * `known` by a query), the last commit, the retry/blocked state, and the
 * loop's flags. Every stage file (held.ts, append_window.ts, streams.ts,
 * refusals.ts, commits.ts, resume.ts, retries.ts) reads and changes this
 * state through functions of `w`; writer.ts runs the loop.
 *
 * Invariants:
 * - `units` are in offset order, contiguous from the committed offset;
 *   `units[0..sent)` are appended (or need no append), the rest are not;
 * - appends in `window` are in offset order on `stream`, and are
 *   acknowledged in that order;
 * - the committed marker names the stream that the rows after the committed
 *   offset go to, and the row they start at (a new stream is committed as
 *   the marker before its first append).
 *
 * @module
 */

import type { AppendResult } from "../../bigquery/mod.ts";
import { GrpcStatus } from "../../bigquery/mod.ts";
import type { DeadLetterKind, OutgoingMessage, SourceMessage } from "../../dlq/mod.ts";
import type { ColumnType, PlayRow } from "../../schema.ts";
import type { CommitMarker } from "../commit_marker.ts";
import type { RowStream } from "../../bigquery/mod.ts";
import type { Decoder, WriterStats } from "../sink.ts";
import type { Blocked, PartitionIO, WriterContext, WriterEvents } from "./context.ts";
import type { TableColumns } from "./table_columns.ts";

/** One message on its way. */
export interface Unit {
  offset: bigint;
  message: SourceMessage;
  bytes: number;
  /** When it was queued (ms). */
  at: number;
  decoded: boolean;
  /** Its row was checked against the table's columns (schema_fit.ts). */
  fitted: boolean;
  row?: PlayRow | undefined;
  letter?: OutgoingMessage | undefined;
  kind?: DeadLetterKind | undefined;
  /** Its row (if any) is stored, or it has none: it can be committed. */
  stored: boolean;
  /** Counted in `stats.inserted`. */
  counted: boolean;
  /** Its dead letter was published. */
  published: boolean;
  /** Rows after it may be appended only once it is committed (it follows a refused row). */
  barrier: boolean;
  /** The stream its row went to, and the row offset after it: the marker to commit after it. */
  after?: CommitMarker | undefined;
}

/** An append in flight. */
export interface Inflight {
  units: Unit[];
  rows: PlayRow[];
  /** Units of `rows`, index by index. */
  owners: Unit[];
  offset: number;
  started: number;
  promise: Promise<void>;
  result?: AppendResult | undefined;
  /** Sent again, unchanged, on the same stream: `already-exists` means stored. */
  resent: boolean;
}

/** The stream being appended to. */
export interface OpenStream {
  rs: RowStream;
  /** Stream name (`insert-all` for insertAll). */
  name: string;
  /** Next row offset to append at. */
  next: number;
  /** Whether anything was appended. */
  used: boolean;
  /** Whether the committed marker names it (always true for insertAll). */
  announced: boolean;
  /** The table's creation time when the stream was opened. */
  createdAt: number | undefined;
  /** Lower-case names of the columns its rows are described with (undefined: the plays columns only). */
  columns: ReadonlySet<string> | undefined;
  /** The type each of those columns is described with, by lower-case name. */
  types: ReadonlyMap<string, ColumnType>;
}

/** Rows known stored after the committed offset, to skip on a re-read. */
export interface Skip {
  stream: string;
  row: number;
  left: number;
}

/** Offsets whose rows BigQuery holds, as a query found them: not written again. */
export interface Known {
  offsets: Set<bigint>;
  /** Commits up to this offset carry it in their marker, so that a restart asks again. */
  until: bigint;
  /** The stream to name in those markers while no stream of ours is announced. */
  stream: string;
}

export class Stopped extends Error {
  constructor() {
    super("Cannot go on: the partition writer stopped");
    this.name = "Stopped";
  }
}

export const INSERT_ALL_STREAM = "insert-all";

/** A failure as the writer handles it. */
export interface Problem {
  code: number | undefined;
  message: string;
  retryable: boolean;
}

export function numericCode(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "code" in error &&
      typeof error.code === "number"
    ? error.code
    : undefined;
}

export function problemOf(result: AppendResult): Problem {
  if (result.status === "failed") {
    return { code: result.code, message: result.message, retryable: result.retryable };
  }
  if (result.status === "ok") return { code: 0, message: "ok", retryable: false };
  const code = result.status === "already-exists"
    ? GrpcStatus.ALREADY_EXISTS
    : result.status === "out-of-range"
    ? GrpcStatus.OUT_OF_RANGE
    : GrpcStatus.INVALID_ARGUMENT;
  return { code, message: result.message, retryable: false };
}

export function isRefusal(result: AppendResult): boolean {
  return result.status === "rows-refused" ||
    (result.status === "failed" && result.code === GrpcStatus.INVALID_ARGUMENT) ||
    (result.status === "ok" && (result.refused?.length ?? 0) > 0 &&
      result.refused!.length >= result.rows + result.refused!.length);
}

/** A batch given to `add()` and not taken yet: before the start is known, or at a gap. */
export interface Arrival {
  messages: readonly SourceMessage[];
  /** The offset it was fetched from. */
  from: bigint;
  bytes: number;
  /** When it was queued (ms). */
  at: number;
}

/** Bytes a queued message counts for. */
export function messageBytes(message: SourceMessage): number {
  return (message.valueLength ?? message.value?.length ?? 0) + 96;
}

/** A partition writer's state; see the module doc for its invariants. */
export interface WriterState {
  readonly partition: number;
  readonly io: PartitionIO;
  readonly ctx: WriterContext;
  readonly destination: WriterContext["destination"];
  readonly stats: WriterStats;
  readonly limits: WriterContext["limits"];
  readonly exactlyOnce: boolean;
  readonly events: WriterEvents;
  readonly now: () => Date;
  readonly decoder: Decoder;
  /** The decoder's version, written into each marker. */
  readonly version: string;
  /** The table's columns, shared with the other partitions (schema_fit.ts). */
  readonly columns: TableColumns;
  /** The version of the columns the units not yet sent were fitted to (schema_fit.ts). */
  fittedVersion: number;
  /** A stream was settled: read the table's columns before the next one is opened (schema_fit.ts). */
  recheck: boolean;
  readonly abort: AbortController;

  // The messages held (held.ts).
  units: Unit[];
  /** `units[0..sent)` are appended or need no append. */
  sent: number;
  unsentBytes: number;
  heldBytes: number;
  /**
   * The offset the next message taken must have (undefined until the start
   * is known): every message taken follows on from the committed offset.
   */
  next: bigint | undefined;
  /** Batches not taken yet, in the order they came; the first one is at a gap (arrivals.ts). */
  arrivals: Arrival[];
  arrivedMessages: number;
  highWatermark: bigint;

  // The append window (append_window.ts, streams.ts).
  window: Inflight[];
  stream: OpenStream | undefined;

  // What resuming found stored (resume.ts).
  skip: Skip | undefined;
  known: Known | undefined;
  /** The committed offset read at start: messages below it were stored already. */
  startAt: bigint | undefined;

  // Commits (commits.ts).
  /** The offset committed last by this writer (or read at start). */
  committedAt: bigint | undefined;
  /** The metadata of that commit. */
  committedMetadata: string | undefined;
  /** Commits wait for this: a check that the group still has this writer's last commit (writer.ts `keep`). */
  confirmed: Promise<void>;
  /** Ends a hold on commits set after a membership error (see commits.ts); undefined when none. */
  release: (() => void) | undefined;
  /** Counts the checks of ownership begun: a membership error from before the latest one needs no hold. */
  epoch: number;
  /**
   * The open stream was finalized by someone else: another consumer owns the
   * partition now (this one was presumed gone). Nothing is sent, no stream
   * opened and nothing committed until `keep()` confirms ownership or a stop.
   */
  fenced: boolean;

  // Failures (retries.ts).
  failures: number;
  waiting: boolean;
  blocked: Blocked | undefined;

  // The loop (writer.ts).
  draining: number;
  stopping: boolean;
  closing: boolean;
  wake: () => void;
  poked: boolean;
  idle: Array<() => void>;
}

/** Throws {@linkcode Stopped} once the writer stops. */
export function check(w: WriterState): void {
  if (w.stopping) throw new Stopped();
}

/** Something changed: wakes the loop, or makes its next wait return at once. */
export function notify(w: WriterState): void {
  w.poked = true;
  const wakeUp = w.wake;
  w.wake = () => {};
  wakeUp();
}
