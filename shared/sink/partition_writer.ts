/**
 * One assigned Kafka partition's way into BigQuery, exactly once.
 *
 * The messages of the partition are turned into rows in order (deterministic:
 * the same messages give the same rows and the same dead letters) and
 * appended to a COMMITTED write stream of the partition's own, at explicit
 * row offsets, several appends in flight. Once BigQuery acknowledged a
 * stretch of rows and Kafka acknowledged the stretch's dead letters, the
 * stretch's offset is committed with a marker naming the stream and the row
 * offset that follows (commit_marker.ts). Invariant: **the committed marker
 * names the stream that the rows after the committed offset go to, and the
 * row offset they start at**. It is kept by committing `{new stream, row 0}`
 * before the first append to any new stream.
 *
 * On assignment the writer reads the committed marker, finalizes the stream
 * it names (no one appends to it any more, e.g. a previous owner still
 * running) and learns its row count: the first `rowCount - row` rows rebuilt
 * from the re-read messages are already stored and are skipped. If that
 * stream cannot be found (it expired, or the local BigQuery restarted), the
 * writer says so and writes those messages again: at least once for that
 * gap only.
 *
 * While running, anything unexpected (a lost answer, a deadline, a stream
 * that went away) is settled the same way: finalize the stream, take its row
 * count as the truth of what is stored, continue in a new stream.
 *
 * Failures get the response their class calls for:
 * - rows BigQuery refuses as rows: the refused rows (found without storing
 *   anything, in a PENDING probe stream, when BigQuery does not name them)
 *   become dead letters; a commit follows each refused row before any later
 *   row is appended, so a re-read never has to guess which rows were refused;
 * - every row refused while the table's schema does not fit the rows, a
 *   missing table that may not be created, refused access: the destination
 *   is unusable: nothing goes to the DLQ, the writer reports itself blocked
 *   and tries again, slowly, until it works;
 * - a missing table that may be created: created again from the shared
 *   schema, and the rows since the last commit written into it;
 * - transient failures: retried with capped backoff.
 * Nothing here holds up the Kafka client: the writer runs beside it, so the
 * group's heartbeats go on whatever the writer waits for.
 *
 * @module
 */

import type { AppendResult, Destination, RowStream, TableCheck } from "../bigquery/mod.ts";
import { GrpcStatus } from "../bigquery/mod.ts";
import { errorMessage } from "../errors.ts";
import type { DeadLetterKind, OutgoingMessage, SourceMessage } from "../dlq/mod.ts";
import { backoffDelay, type BackoffOptions, logger, sleep } from "../ops/mod.ts";
import type { PlayRow } from "../schema.ts";
import { type FlushLimits, flushReason } from "./batcher.ts";
import { type CommitMarker, formatMarker, parseMarker } from "./commit_marker.ts";
import { decodeMessage, refusedLetter, type WriterStats } from "./sink.ts";

const log = logger("consumer");

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

/**
 * The table's shared state for `destination`: lookups that remember the
 * table's creation time, and one re-creation at a time, logged once.
 */
export function createTableState(
  destination: Pick<Destination, "checkTable" | "createTable" | "table">,
  options: { createdAt?: number | undefined; onCreated?: () => void } = {},
): TableState {
  let creating: Promise<void> | undefined;
  const state: TableState = {
    createdAt: options.createdAt,
    async check() {
      const check = await destination.checkTable();
      if (check.status === "ok" && check.createdAt !== undefined) state.createdAt = check.createdAt;
      return check;
    },
    recreate() {
      creating ??= (async () => {
        try {
          await destination.createTable();
          const check = await state.check();
          options.onCreated?.();
          log.warn(
            "Table {table} was missing: created it again from the shared schema; rows since each partition's last commit are written into it",
            { table: destination.table, created: check.status === "ok" },
          );
        } finally {
          creating = undefined;
        }
      })();
      return creating;
    },
  };
  return state;
}

/** What every partition's writer shares. */
export interface WriterContext {
  /** Source topic (dead-letter headers, derived event ids). */
  topic: string;
  destination: Pick<
    Destination,
    "exactlyOnce" | "openStream" | "openProbe" | "finalizeStream" | "isTransient" | "table"
  >;
  table: TableState;
  /** Whether a missing table may be created again. */
  createTable: boolean;
  stats: WriterStats;
  limits: FlushLimits & {
    /** Appends in flight per partition. */
    concurrency: number;
  };
  /** Publishes dead letters; resolves once Kafka acknowledged them. */
  publish(letters: OutgoingMessage[]): Promise<void>;
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
  /** Stops at once (revoked, or given up): nothing more is appended or committed. */
  stop(): Promise<void>;
  /** Resolves once the writer stopped. */
  readonly stopped: Promise<void>;
}

/** One message on its way. */
interface Unit {
  offset: bigint;
  message: SourceMessage;
  bytes: number;
  /** When it was queued (ms). */
  at: number;
  decoded: boolean;
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
interface Inflight {
  units: Unit[];
  rows: PlayRow[];
  /** Units of `rows`, index by index. */
  owners: Unit[];
  offset: number;
  started: number;
  promise: Promise<void>;
  result?: AppendResult;
}

/** The stream being appended to. */
interface OpenStream {
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
}

/** A batch given to `add()` and not taken yet: before the start is known, or at a gap. */
interface Arrival {
  messages: readonly SourceMessage[];
  /** The offset it was fetched from. */
  from: bigint;
  bytes: number;
  /** When it was queued (ms). */
  at: number;
}

/** Bytes a queued message counts for. */
function messageBytes(message: SourceMessage): number {
  return (message.value?.length ?? 0) + 96;
}

/** Rows known stored after the committed offset, to skip on a re-read. */
interface Skip {
  stream: string;
  row: number;
  left: number;
}

class Stopped extends Error {
  constructor() {
    super("Cannot go on: the partition writer stopped");
    this.name = "Stopped";
  }
}

const INSERT_ALL_STREAM = "insert-all";

/** A failure as the writer handles it. */
interface Problem {
  code: number | undefined;
  message: string;
  retryable: boolean;
}

function numericCode(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "code" in error &&
      typeof error.code === "number"
    ? error.code
    : undefined;
}

function problemOf(result: AppendResult): Problem {
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

function isRefusal(result: AppendResult): boolean {
  return result.status === "rows-refused" ||
    (result.status === "failed" && result.code === GrpcStatus.INVALID_ARGUMENT) ||
    (result.status === "ok" && (result.refused?.length ?? 0) > 0 &&
      result.refused!.length >= result.rows + result.refused!.length);
}

/**
 * Starts the writer of `partition`. With `previous` (the partition's former
 * writer in this process), it first waits for that one to stop.
 */
export function createPartitionWriter(
  partition: number,
  io: PartitionIO,
  ctx: WriterContext,
  previous?: PartitionWriter,
): PartitionWriter {
  const { destination, stats, limits } = ctx;
  const exactlyOnce = destination.exactlyOnce;
  const events = ctx.events ?? {};
  const now = ctx.now ?? (() => new Date());
  const units: Unit[] = [];
  let sent = 0;
  let unsentBytes = 0;
  let heldBytes = 0;
  let window: Inflight[] = [];
  let stream: OpenStream | undefined;
  let skip: Skip | undefined;
  /** The committed offset read at start: messages below it were stored already. */
  let startAt: bigint | undefined;
  /**
   * The offset the next message taken must have (undefined until the start
   * is known): every message taken follows on from the committed offset.
   */
  let next: bigint | undefined;
  /** Batches not taken yet, in the order they came; the first one is at a gap. */
  const arrivals: Arrival[] = [];
  let arrivedMessages = 0;
  let highWatermark = 0n;
  let failures = 0;
  let waiting = false;
  let blocked: Blocked | undefined;
  let draining = 0;
  let stopping = false;
  let closing = false;
  const abort = new AbortController();
  let wake: () => void = () => {};
  let poked = false;
  const idle: Array<() => void> = [];

  function check(): void {
    if (stopping) throw new Stopped();
  }

  /** Something changed: wakes the loop, or makes its next wait return at once. */
  function notify(): void {
    poked = true;
    const w = wake;
    wake = () => {};
    w();
  }

  // ---- waiting, retries, blocking --------------------------------------

  async function pause(what: RetryWhat, error: unknown, attempt: number): Promise<void> {
    const delay = backoffDelay(attempt, ctx.backoff);
    stats.retries++;
    events.retry?.(what, error, attempt, delay);
    if (!waiting) {
      waiting = true;
      events.backoff?.(partition, true);
    }
    await sleep(delay, abort.signal);
    check();
  }

  async function block(problem: Blocked, attempt: number): Promise<void> {
    if (blocked?.reason !== problem.reason || blocked.detail !== problem.detail) {
      blocked = problem;
      events.blocked?.(partition, problem);
    }
    await sleep(
      backoffDelay(attempt, { initialMs: 1_000, maxMs: 15_000, ...ctx.blockedBackoff }),
      abort.signal,
    );
    check();
  }

  function working(): void {
    failures = 0;
    if (waiting) {
      waiting = false;
      events.backoff?.(partition, false);
    }
    if (blocked !== undefined) {
      blocked = undefined;
      events.blocked?.(partition, undefined);
    }
  }

  /** Runs a Kafka call until it succeeds; an error that will not pass fails the writer. */
  async function kafka<T>(what: RetryWhat, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      check();
      try {
        return await call();
      } catch (error) {
        check();
        if (!ctx.isTransientKafka(error)) throw error;
        await pause(what, error, attempt);
      }
    }
  }

  /** The table's state, retrying lookups BigQuery gave no answer to. */
  async function lookUpTable(): Promise<TableCheck> {
    for (let attempt = 1;; attempt++) {
      check();
      try {
        return await ctx.table.check();
      } catch (error) {
        check();
        await pause("insert", error, attempt);
      }
    }
  }

  /**
   * Waits until the table is usable: creates it when missing and allowed,
   * else reports the destination blocked and looks again, slowly.
   * Resolves true when the table was created again.
   */
  async function untilTableUsable(first?: TableCheck): Promise<boolean> {
    let found = first ?? await lookUpTable();
    for (let attempt = 1;; attempt++) {
      if (found.status === "ok") return false;
      if (found.status === "missing" && ctx.createTable) {
        try {
          await ctx.table.recreate();
          return true;
        } catch (error) {
          check();
          if (destination.isTransient(error)) {
            await pause("insert", error, attempt);
          } else {
            await block({
              reason: "refused",
              detail: `Cannot create the table: ${errorMessage(error)}`,
            }, attempt);
          }
          found = await lookUpTable();
          continue;
        }
      }
      const reason: BlockReason = found.status === "missing"
        ? "table-missing"
        : found.status === "denied"
        ? "permission-denied"
        : "refused";
      await block({ reason, detail: found.message }, attempt);
      found = await lookUpTable();
    }
  }

  /**
   * Responds to a failed BigQuery call (not a row refusal); resolves once
   * trying again makes sense. The caller then settles the stream (resync).
   */
  async function recoverFrom(problem: Problem): Promise<void> {
    failures++;
    if (problem.retryable) {
      await pause("insert", problem.message, failures);
      return;
    }
    if (
      problem.code === GrpcStatus.PERMISSION_DENIED || problem.code === GrpcStatus.UNAUTHENTICATED
    ) {
      await block({ reason: "permission-denied", detail: problem.message }, failures);
      return;
    }
    const found = await lookUpTable();
    if (found.status === "ok") {
      // The table is fine: a stream that went away or was finalized, or
      // something unforeseen. Settling the stream tells what is stored.
      await pause("insert", problem.message, failures);
      return;
    }
    await untilTableUsable(found);
  }

  /** Calls BigQuery until it answers; other failures go through {@linkcode recoverFrom}. */
  async function bigquery<T>(call: () => Promise<T>): Promise<T> {
    for (;;) {
      check();
      try {
        return await call();
      } catch (error) {
        check();
        await recoverFrom({
          code: numericCode(error),
          message: errorMessage(error),
          retryable: destination.isTransient(error),
        });
      }
    }
  }

  // ---- recovery --------------------------------------------------------

  async function recover(): Promise<void> {
    const position = await kafka("commit", () => io.committed());
    check();
    log.debug("Partition {partition}: committed at {offset} ({metadata})", {
      partition,
      offset: String(position?.offset ?? "none"),
      metadata: position?.metadata ?? "",
    });
    if (position === undefined) return;
    startAt = position.offset;
    if (!exactlyOnce) return;
    const marker = parseMarker(position.metadata);
    if (marker === undefined) {
      log.info(
        "Partition {partition}: the last commit (offset {offset}) names no write stream; exactly-once starts there",
        { partition, offset: String(position.offset) },
      );
      return;
    }
    const finalized = await bigquery(() => destination.finalizeStream(marker.stream));
    if (finalized.status === "not-found") {
      stats.streamsLost++;
      log.warn(
        "Partition {partition}: write stream {stream} named by the last commit (offset {offset}) no longer exists (it expired, or the local BigQuery restarted): rows of messages from offset {offset} on that were stored before are stored again (at least once for this gap)",
        {
          partition,
          stream: marker.stream,
          offset: String(position.offset),
          reason: finalized.message,
        },
      );
      return;
    }
    const left = finalized.rowCount - marker.row;
    if (left < 0) {
      log.warn(
        "Partition {partition}: write stream {stream} holds {rows} rows, fewer than the {row} the last commit says: skipping none",
        { partition, stream: marker.stream, rows: finalized.rowCount, row: marker.row },
      );
      return;
    }
    if (left > 0) {
      skip = { stream: marker.stream, row: marker.row, left };
      log.info(
        "Partition {partition}: {left} rows after offset {offset} are already stored (write stream {stream}): skipping them on the re-read",
        { partition, left, offset: String(position.offset), stream: marker.stream },
      );
    }
  }

  /**
   * Takes the batches that follow on from `next` (messages below it are
   * repeats: dropped); stops at the first batch that leaves a gap, which
   * {@linkcode checkStart} judges.
   */
  function admit(): void {
    while (next !== undefined && arrivals.length > 0) {
      const batch = arrivals[0]!;
      if (batch.from > next) return;
      arrivals.shift();
      release(batch);
      for (const message of batch.messages) {
        const offset = BigInt(message.offset);
        if (offset < next) continue;
        next = offset + 1n;
        const bytes = messageBytes(message);
        units.push({
          offset,
          message,
          bytes,
          at: batch.at,
          decoded: false,
          stored: false,
          counted: false,
          published: false,
          barrier: false,
        });
        unsentBytes += bytes;
        heldBytes += bytes;
        stats.consumed++;
      }
    }
  }

  function release(batch: Arrival): void {
    heldBytes -= batch.bytes;
    arrivedMessages -= batch.messages.length;
  }

  /**
   * Once the committed position is known, takes what follows on from it; a
   * batch at a gap is taken only when the partition's log start says that
   * retention deleted the gap, and is otherwise stale (fetched before a
   * rebalance, from a position past the committed offset): it is dropped
   * and the partition fetched again from the next offset to store.
   * Resolves true when it did something.
   */
  async function checkStart(): Promise<boolean> {
    const logStart = io.logStart;
    if (next === undefined) {
      // Never committed: the group starts at the earliest retained record.
      next = startAt ??
        (logStart === undefined ? arrivals[0]?.from : await kafka("commit", () => logStart()));
      check();
      if (next === undefined) return false;
      admit();
      idleIfEmpty();
      return true;
    }
    const batch = arrivals[0];
    if (batch === undefined) return false;
    const expected = next;
    const low = logStart === undefined ? undefined : await kafka("commit", () => logStart());
    check();
    if (low !== undefined && low > expected) {
      log.warn(
        "Partition {partition}: messages from offset {from} to {to} are gone (retention) before they were stored",
        { partition, from: String(expected), to: String(low - 1n) },
      );
      if (skip !== undefined) {
        log.warn(
          "Partition {partition}: which of the messages gone were stored is unknown, so no row is skipped (at least once for this gap)",
          { partition },
        );
        skip = undefined;
      }
      next = low;
    }
    if (batch.from > next) {
      arrivals.shift();
      release(batch);
      stats.staleBatches++;
      log.warn(
        "Partition {partition}: dropped a stale batch of {count} messages fetched from offset {from} (before a rebalance): fetching again from offset {next}",
        { partition, count: batch.messages.length, from: String(batch.from), next: String(next) },
      );
      io.seek?.(next);
    }
    admit();
    idleIfEmpty();
    return true;
  }

  /** Wakes `drain()` callers once nothing is held. */
  function idleIfEmpty(): void {
    if (units.length === 0 && arrivals.length === 0) {
      for (const wakeUp of idle.splice(0)) wakeUp();
    }
  }

  function consumeSkip(): void {
    while (skip !== undefined && sent < units.length) {
      const unit = units[sent]!;
      decode(unit);
      if (unit.row !== undefined) {
        skip.left--;
        skip.row++;
        stats.skipped++;
        unit.row = undefined;
        unit.counted = true;
      }
      unit.stored = true;
      unit.after = { stream: skip.stream, row: skip.row };
      unsentBytes -= unit.bytes;
      sent++;
      if (skip.left === 0) {
        log.info("Partition {partition}: skipped every row already stored; writing on", {
          partition,
        });
        skip = undefined;
      }
    }
  }

  // ---- units and chunks -----------------------------------------------

  function decode(unit: Unit): void {
    if (unit.decoded) return;
    unit.decoded = true;
    const decoded = decodeMessage(ctx.topic, partition, unit.message, now().toISOString());
    if (decoded.row !== undefined) unit.row = decoded.row;
    else {
      unit.letter = decoded.letter;
      unit.kind = decoded.kind;
    }
  }

  function flushDue(): boolean {
    if (sent >= units.length) return false;
    if (draining > 0 || stopping) return true;
    const reason = flushReason({
      rows: units.length - sent,
      bytes: unsentBytes,
      ageMs: Date.now() - units[sent]!.at,
    }, limits);
    return reason !== undefined;
  }

  /** Takes the next chunk from `sent`: up to the limits, ending at a barrier. */
  function takeChunk(): Unit[] {
    const chunk: Unit[] = [];
    let bytes = 0;
    while (sent < units.length && chunk.length < limits.maxRows) {
      const unit = units[sent]!;
      if (chunk.length > 0 && bytes + unit.bytes > limits.maxBytes) break;
      chunk.push(unit);
      bytes += unit.bytes;
      unsentBytes -= unit.bytes;
      sent++;
      if (unit.barrier) break;
    }
    return chunk;
  }

  function send(chunk: Unit[]): void {
    const open = stream!;
    const rows: PlayRow[] = [];
    const owners: Unit[] = [];
    const offset = open.next;
    for (const unit of chunk) {
      decode(unit);
      if (unit.row !== undefined) {
        rows.push(unit.row);
        owners.push(unit);
      }
      unit.after = { stream: open.name, row: offset + rows.length };
    }
    open.next += rows.length;
    const inflight: Inflight = {
      units: chunk,
      rows,
      owners,
      offset,
      started: performance.now(),
      promise: Promise.resolve(),
    };
    if (rows.length === 0) {
      inflight.result = { status: "ok", offset, rows: 0 };
    } else {
      open.used = true;
      inflight.promise = open.rs.append(rows, offset).then(
        (result) => void (inflight.result = result),
        (error) =>
          void (inflight.result = {
            status: "failed",
            code: GrpcStatus.UNKNOWN,
            message: errorMessage(error),
            retryable: true,
          }),
      ).finally(notify);
    }
    window.push(inflight);
  }

  // ---- streams ----------------------------------------------------------

  async function openStream(): Promise<void> {
    const rs = await bigquery(() => destination.openStream());
    stream = {
      rs,
      name: rs.name ?? INSERT_ALL_STREAM,
      next: 0,
      used: false,
      announced: !exactlyOnce,
      createdAt: ctx.table.createdAt,
    };
  }

  /** Commits `{stream, 0}` at the first unsent message: the marker names the new stream. */
  async function announce(): Promise<void> {
    const open = stream!;
    const first = units[sent]!;
    await publishLetters(sent);
    await kafka(
      "commit",
      () => io.commit(first.offset, formatMarker({ stream: open.name, row: 0 })),
    );
    check();
    forget(sent);
    open.announced = true;
  }

  /**
   * Settles what is stored after a failure: finalizes the stream (its row
   * count is the truth), or, when it is gone, keeps what was acknowledged
   * and writes the rest again. The next append opens a new stream.
   */
  async function resync(): Promise<void> {
    await Promise.all(window.map((inflight) => inflight.promise));
    // Acknowledged appends at the head are stored; after a failure the
    // answers of later appends are not trusted: the stream's count decides.
    while (window[0]?.result?.status === "ok" && !isRefusal(window[0].result)) {
      acknowledge(window.shift()!);
    }
    window = [];
    const open = stream;
    stream = undefined;
    if (open === undefined) return rewind();
    open.rs.close();
    if (!open.used || !exactlyOnce) return rewind();
    const found = await lookUpTable();
    if (found.status !== "ok") await untilTableUsable(found);
    const tableChanged = open.createdAt !== undefined && ctx.table.createdAt !== undefined &&
      open.createdAt !== ctx.table.createdAt;
    let storedRows: number;
    if (tableChanged) {
      storedRows = 0;
      const again = units.filter((unit) => unit.after?.stream === open.name && unit.row).length;
      log.warn(
        "Partition {partition}: the table was created again after write stream {stream} was opened: the {rows} rows since the last commit are written into the new table",
        { partition, stream: open.name, rows: again },
      );
    } else {
      const finalized = await bigquery(() => destination.finalizeStream(open.name));
      if (finalized.status === "finalized") {
        storedRows = finalized.rowCount;
      } else {
        storedRows = acknowledgedRows(open.name);
        const unknown = units.filter((unit) =>
          !unit.stored && unit.row !== undefined && unit.after?.stream === open.name
        ).length;
        stats.streamsLost++;
        stats.rewritten += unknown;
        log.warn(
          "Partition {partition}: write stream {stream} no longer exists (the local BigQuery restarted, or it expired): {rows} rows whose append was not acknowledged are written again (at least once for them)",
          { partition, stream: open.name, rows: unknown, reason: finalized.message },
        );
      }
    }
    for (const unit of units) {
      if (unit.after?.stream !== open.name) continue;
      if (!tableChanged && unit.after.row <= storedRows) {
        if (!unit.stored) markStored(unit);
      } else {
        unit.stored = false;
      }
    }
    rewind();
  }

  function acknowledgedRows(name: string): number {
    let rows = 0;
    for (const unit of units) {
      if (unit.after?.stream === name && unit.stored) rows = unit.after.row;
    }
    return rows;
  }

  /** Points `sent` at the first unit not stored; everything from there is sent again. */
  function rewind(): void {
    let first = units.findIndex((unit) => !unit.stored);
    if (first === -1) first = units.length;
    // Appends are stored in order: nothing after the first unstored unit is.
    for (let i = first; i < units.length; i++) {
      if (i < sent) unsentBytes += units[i]!.bytes;
      units[i]!.stored = false;
      units[i]!.after = undefined;
    }
    sent = first;
  }

  // ---- results ----------------------------------------------------------

  function markStored(unit: Unit): void {
    unit.stored = true;
    if (!unit.counted && unit.row !== undefined) {
      unit.counted = true;
      stats.inserted++;
    }
  }

  function acknowledge(inflight: Inflight): void {
    const result = inflight.result!;
    if (result.status === "ok" && result.refused !== undefined && result.refused.length > 0) {
      // insertAll stored the others.
      for (const { index, reason } of result.refused) {
        const unit = inflight.owners[index];
        if (unit !== undefined) refuse(unit, reason);
      }
    }
    for (const unit of inflight.units) markStored(unit);
    if (inflight.rows.length > 0) {
      const millis = performance.now() - inflight.started;
      stats.batches++;
      stats.lastBatchRows = inflight.rows.length;
      stats.lastInsertMs = millis;
      events.stored?.(result.status === "ok" ? result.rows : inflight.rows.length, millis);
      events.acknowledged?.(partition);
    }
  }

  function refuse(unit: Unit, reason: string): void {
    unit.row = undefined;
    unit.letter = refusedLetter(ctx.topic, partition, unit.message, reason);
    unit.kind = "rejected-by-bigquery";
  }

  async function handleHead(): Promise<void> {
    const head = window[0]!;
    const result = head.result!;
    if (result.status === "ok" && !isRefusal(result)) {
      window.shift();
      acknowledge(head);
      if (head.rows.length > 0) working();
      return;
    }
    await Promise.all(window.map((inflight) => inflight.promise));
    check();
    if (isRefusal(result)) {
      const later = window.slice(1);
      if (later.some((inflight) => inflight.result?.status === "ok" && inflight.rows.length > 0)) {
        // Stored after a refused append? Offsets say it cannot be: settle.
        await recoverFrom(problemOf(result));
        await resync();
        return;
      }
      window = [];
      // Nothing from the refused append on is stored: send it all again.
      const index = units.indexOf(head.units[0]!);
      for (let i = index; i < sent; i++) unsentBytes += units[i]!.bytes;
      sent = index;
      stream!.next = head.offset;
      await isolate(head, result);
      return;
    }
    await recoverFrom(problemOf(result));
    await resync();
  }

  /**
   * Finds the rows of a refused append that BigQuery refuses, without
   * storing anything (a PENDING probe stream), and turns them into dead
   * letters — unless every row is refused and the table's schema does not
   * fit the rows: then the destination is unusable, and the writer blocks.
   */
  async function isolate(head: Inflight, result: AppendResult): Promise<void> {
    let refused: { index: number; reason: string }[];
    let complete = true;
    let accepted = 0;
    const fallback = result.status === "failed" || result.status === "rows-refused"
      ? result.message
      : "refused by BigQuery";
    if (result.status === "rows-refused") {
      refused = result.rows;
      accepted = head.rows.length - refused.length;
    } else if (result.status === "ok" && result.refused !== undefined) {
      refused = result.refused;
    } else {
      const found = await probe(head.rows, fallback, ctx.probeCap ?? 64);
      ({ refused, complete, accepted } = found);
    }
    const everyRow = accepted === 0 && (!complete || refused.length >= head.rows.length);
    if (everyRow) {
      failures++;
      const table = await lookUpTable();
      if (table.status !== "ok") {
        await untilTableUsable(table);
        return;
      }
      if (table.schemaProblem !== undefined) {
        await block({
          reason: "schema-mismatch",
          detail:
            `BigQuery refuses every row (${fallback}); the table's schema does not fit the rows: ${table.schemaProblem}`,
        }, failures);
        // A stream keeps the schema it was opened with: try again in a new one.
        await resync();
        return;
      }
      if (!complete) ({ refused } = await probe(head.rows, fallback, undefined));
    }
    if (refused.length === 0) {
      // Refused whole, yet no row is on its own (the table changed since the
      // stream was opened?): try again later, in a new stream.
      await recoverFrom({ code: undefined, message: fallback, retryable: true });
      await resync();
      return;
    }
    const bad = new Set<Unit>();
    for (const { index, reason } of refused) {
      const unit = head.owners[index];
      if (unit === undefined) continue;
      refuse(unit, reason);
      bad.add(unit);
    }
    // A commit past each run of refused rows before later rows are appended.
    if (exactlyOnce) {
      head.units.forEach((unit, i) => {
        const next = head.units[i + 1];
        if (bad.has(unit) && (next === undefined || !bad.has(next))) unit.barrier = true;
      });
    }
    log.warn(
      "Partition {partition}: BigQuery refused {count} rows as rows ({reason}); they go to the dead-letter topic",
      { partition, count: bad.size, reason: refused[0]?.reason ?? fallback },
    );
  }

  /** Bisects `rows` in a PENDING stream to find the refused ones (at most `cap` appends while none is accepted). */
  async function probe(
    rows: readonly PlayRow[],
    fallback: string,
    cap: number | undefined,
  ): Promise<
    { refused: { index: number; reason: string }[]; complete: boolean; accepted: number }
  > {
    const probeStream = await bigquery(() => destination.openProbe());
    if (probeStream === undefined) {
      return {
        refused: rows.map((_, index) => ({ index, reason: fallback })),
        complete: true,
        accepted: 0,
      };
    }
    try {
      const refused: { index: number; reason: string }[] = [];
      const queue: Array<[number, number]> = [[0, rows.length]];
      let offset = 0;
      let calls = 0;
      let accepted = 0;
      while (queue.length > 0) {
        check();
        if (cap !== undefined && calls >= cap && accepted === 0) {
          return { refused, complete: false, accepted };
        }
        const [from, to] = queue.shift()!;
        const answer = await probeStream.append(rows.slice(from, to), offset);
        calls++;
        if (answer.status === "ok") {
          offset += to - from;
          accepted += to - from;
        } else if (answer.status === "rows-refused") {
          for (const row of answer.rows) {
            refused.push({ index: from + row.index, reason: row.reason });
          }
          accepted += to - from - answer.rows.length;
        } else if (answer.status === "failed" && answer.code === GrpcStatus.INVALID_ARGUMENT) {
          if (to - from === 1) refused.push({ index: from, reason: answer.message || fallback });
          else {
            const middle = from + Math.ceil((to - from) / 2);
            queue.unshift([from, middle], [middle, to]);
          }
        } else {
          // The probe itself failed: try the whole thing again later.
          await recoverFrom(problemOf(answer));
          return await probe(rows, fallback, cap);
        }
      }
      refused.sort((a, b) => a.index - b.index);
      return { refused, complete: true, accepted };
    } finally {
      probeStream.close();
    }
  }

  // ---- commits ---------------------------------------------------------

  async function publishLetters(count: number): Promise<void> {
    const letters: Unit[] = [];
    for (let i = 0; i < count; i++) {
      const unit = units[i]!;
      if (unit.letter !== undefined && !unit.published) letters.push(unit);
    }
    if (letters.length === 0) return;
    await kafka("dead-letter", () => ctx.publish(letters.map((unit) => unit.letter!)));
    for (const unit of letters) {
      unit.published = true;
      stats.deadLettered[unit.kind ?? "rejected-by-bigquery"]++;
    }
  }

  /** Removes the first `count` units (committed). */
  function forget(count: number): void {
    const gone = units.splice(0, count);
    sent -= count;
    for (const unit of gone) heldBytes -= unit.bytes;
    const last = gone[gone.length - 1];
    if (last !== undefined) events.committed?.(partition, last.offset + 1n, highWatermark);
    idleIfEmpty();
  }

  /**
   * The metadata of a commit after `last`: the marker naming where the rows
   * after it are (the skipped stream, or the current one), or none when no
   * row after it is stored anywhere yet. Undefined (`false`) when a commit
   * now would be wrong.
   */
  function metadataAfter(last: Unit): string | undefined | false {
    if (!exactlyOnce) return undefined;
    if (skip !== undefined) return last.after === undefined ? false : formatMarker(last.after);
    if (stream?.announced) {
      return last.after?.stream === stream.name ? formatMarker(last.after) : false;
    }
    // No stream yet (or not named): nothing after `last` is appended anywhere.
    return undefined;
  }

  /** Commits the stored prefix; resolves false when there is nothing to commit now. */
  async function commitStored(): Promise<boolean> {
    let count = 0;
    while (count < sent && units[count]!.stored) count++;
    if (count === 0) return false;
    const last = units[count - 1]!;
    const metadata = metadataAfter(last);
    if (metadata === false) return false;
    await publishLetters(count);
    await kafka("commit", () => io.commit(last.offset + 1n, metadata));
    check();
    log.debug("Partition {partition}: committed {offset} ({metadata})", {
      partition,
      offset: String(last.offset + 1n),
      metadata: metadata ?? "",
    });
    forget(count);
    return true;
  }

  // ---- the loop ----------------------------------------------------------

  /** Does one thing that can be done now; false when there is nothing. */
  async function step(): Promise<boolean> {
    if (arrivals.length > 0 && await checkStart()) return true;
    if (window[0]?.result !== undefined) {
      await handleHead();
      return true;
    }
    // Appends first: a commit then runs while they are in flight.
    if (await trySend()) return true;
    return await commitStored();
  }

  /** Sends the next append (or does what must come before it); false when none is due. */
  async function trySend(): Promise<boolean> {
    if (skip !== undefined && sent < units.length && window.length === 0) {
      consumeSkip();
      return true;
    }
    if (sent >= units.length || window.length >= limits.concurrency || !flushDue()) return false;
    if (sent > 0 && units[sent - 1]!.barrier) return false; // its commit comes first
    if (
      stream !== undefined && stream.announced && exactlyOnce &&
      stream.createdAt !== ctx.table.createdAt && window.length === 0 && stream.used
    ) {
      await resync();
      return true;
    }
    if (stream === undefined) {
      if (window.length > 0) return false;
      await openStream();
      return true;
    }
    if (!stream.announced) {
      if (window.length > 0 || units.slice(0, sent).some((unit) => !unit.stored)) return false;
      await announce();
      return true;
    }
    send(takeChunk());
    return true;
  }

  async function waitForWork(): Promise<void> {
    if (poked || stopping) {
      poked = false;
      return;
    }
    const wakeUp = new Promise<void>((resolve) => (wake = resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (sent < units.length && window.length < limits.concurrency) {
      const age = Date.now() - units[sent]!.at;
      timer = setTimeout(notify, Math.max(1, limits.maxWaitMs - age));
    }
    const waited = Date.now();
    await Promise.race([wakeUp, window[0]?.promise ?? wakeUp]);
    clearTimeout(timer);
    poked = false;
    if (Date.now() - waited > 10_000) {
      log.debug(
        "Partition {partition}: waited {ms} ms with {held} messages held, {sent} sent, {inFlight} appends in flight",
        {
          partition,
          ms: Date.now() - waited,
          held: units.length,
          sent,
          inFlight: window.length,
          stream: stream?.name ?? "none",
          skip: skip?.left ?? 0,
        },
      );
    }
  }

  const stopped = (async () => {
    try {
      if (previous !== undefined) await previous.stopped;
      check();
      await recover();
      while (!stopping) {
        if (!await step()) await waitForWork();
      }
    } catch (error) {
      if (!(error instanceof Stopped)) {
        log.error("Partition {partition}: cannot go on: {error}", {
          partition,
          error: errorMessage(error),
        });
        events.failed?.(partition, error);
      }
    } finally {
      stopping = true;
      const open = stream;
      open?.rs.close();
      // Revoked or given up: no more appends to this stream. The next owner
      // finalizes it too (idempotent); nobody waits for this one.
      if (open !== undefined && open.used && exactlyOnce && !closing) {
        destination.finalizeStream(open.name).catch(() => {});
      }
      for (const wakeUp of idle.splice(0)) wakeUp();
    }
  })();

  function stop(): Promise<void> {
    if (!stopping) {
      stopping = true;
      abort.abort();
      stream?.rs.close();
      notify();
    }
    return stopped;
  }

  return {
    partition,
    add(messages, end, options = {}) {
      if (end > highWatermark) highWatermark = end;
      const first = messages[0];
      if (first === undefined || stopping) return;
      let bytes = 0;
      for (const message of messages) bytes += messageBytes(message);
      arrivals.push({
        messages,
        from: options.fetchedFrom ?? BigInt(first.offset),
        bytes,
        at: Date.now(),
      });
      heldBytes += bytes;
      arrivedMessages += messages.length;
      admit();
      notify();
    },
    get heldBytes() {
      return heldBytes;
    },
    get held() {
      return units.length + arrivedMessages;
    },
    async drain() {
      draining++;
      notify();
      try {
        while ((units.length > 0 || arrivals.length > 0) && !stopping) {
          await new Promise<void>((resolve) => idle.push(resolve));
        }
      } finally {
        draining--;
      }
    },
    async close() {
      closing = true;
      await this.drain();
      const open = stream;
      if (open !== undefined && open.used && exactlyOnce && !stopping) {
        try {
          await destination.finalizeStream(open.name);
        } catch (error) {
          log.debug("Partition {partition}: cannot finalize {stream}: {error}", {
            partition,
            stream: open.name,
            error: errorMessage(error),
          });
        }
      }
      await stop();
    },
    stop,
    stopped,
  };
}
