/**
 * The consumer's pipeline: a Kafka source feeding one partition writer per
 * assigned partition (partition/), each writing its own write
 * stream and committing its own offsets, side by side: a slow or failing
 * partition never holds up the others, and the Kafka client, which only
 * hands batches over, keeps fetching and heartbeating whatever the writers
 * wait for.
 *
 * Fetching of a partition pauses while its writer holds too much, and while
 * it waits for a transient failure to pass; fetching of every partition
 * pauses while BigQuery is unusable (blocked), which `/healthz` reports, with
 * one ERROR line a minute. A rebalance stops the writers of partitions that
 * moved away and starts writers for new ones, which read back the committed
 * markers; a partition that stays keeps its writer and its write stream.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { Destination } from "../bigquery/mod.ts";
import {
  isMembershipError,
  isTransientKafkaError,
  MAX_REQUEST_BYTES,
  type Publisher,
  type Source,
} from "../kafka/mod.ts";
import { fitLetter } from "../dlq/mod.ts";
import { logger, sleep } from "../ops/mod.ts";
import type { ConsumerMetrics } from "./metrics.ts";
import {
  type Blocked,
  type CommittedPosition,
  createPartitionWriter,
  createTableColumns,
  type PartitionWriter,
  type TableState,
} from "./partition/mod.ts";
import { createSinkStats, playDecoder, type WriterStats } from "./sink.ts";
import {
  createStreamBudget,
  type StreamBudget,
  type StreamBudgetOptions,
} from "./stream_budget.ts";
import type { FlushLimits } from "./batcher.ts";
import type { SchemaEvolution } from "../schema.ts";

const log = logger("consumer");

/** Options of {@linkcode createSinkStream}. */
export interface SinkStreamOptions extends FlushLimits {
  /** Where messages come from. */
  source: Source;
  /** How far ahead of the clock an event time may be (default 5 minutes; see `playDecoder`). */
  maxFutureMs?: number;
  /** What becomes of fields beyond the core ones (default `add-columns`; see `SchemaEvolution`). */
  schemaEvolution?: SchemaEvolution;
  /** Where rows go. */
  destination: Destination;
  /** The table's shared state (see `createTableState`). */
  table: TableState;
  /** Whether a missing table may be created again. */
  createTable: boolean;
  /** Appends in flight per partition. */
  concurrency: number;
  /** The group's committed offset and metadata of a partition. */
  committed: (partition: number) => Promise<CommittedPosition | undefined>;
  /** Where dead letters go, and to which topic. */
  deadLetters: Publisher;
  dlqTopic: string;
  /**
   * The dead-letter topic's `max.message.bytes`: a larger letter is cut to
   * fit (see `fitLetter`), and letters go one a request when it is below a
   * request's size. Default: letters are sent as they are.
   */
  maxLetterBytes?: number;
  metrics: ConsumerMetrics;
  /** Gives up writing (a shutdown deadline): what is not committed is left for the next run. */
  giveUp: AbortSignal;
  /** Bytes of messages a partition may hold before its fetching pauses (default: room for `concurrency + 1` appends). */
  maxHeldBytes?: number;
  /** Each partition's allowance of write stream creations (default: 10 at once, then one every 30 s). */
  streamBudget?: StreamBudgetOptions;
  /** Called after an append was acknowledged and before its commit (a test failpoint). */
  onAcknowledged?: (partition: number) => void;
  /** Called after columns were added to the table, before any row uses them (a test failpoint). */
  onColumnsAdded?: (names: string[]) => void;
  /** How old the table's columns may get before a writer reads them again (default 30 s). */
  schemaCheckMs?: number;
}

/** Options of {@linkcode SinkStream.run}. */
export interface RunOptions {
  /** Stops reading. */
  stop: AbortSignal;
  /** Return once caught up and idle this long (default: only on `stop`). */
  exitWhenIdleMs?: number | undefined;
}

/** How a run ended. */
export interface StreamOutcome {
  /** The source's client, or a partition writer, failed for good. */
  failed: boolean;
  /** Stopped while messages read were still not stored (left uncommitted, read again next time). */
  abandoned: boolean;
}

/** The running pipeline. */
export interface SinkStream {
  readonly stats: WriterStats;
  /** Reads and stores until `stop`, a crash, or a quiet topic with `exitWhenIdleMs`. */
  run(options: RunOptions): Promise<void>;
  /** Stops fetching, lets every writer store and commit what it holds, then leaves the group. */
  close(): Promise<StreamOutcome>;
}

const BLOCKED_LOG_EVERY_MS = 60_000;
const MIB = 1024 * 1024;

/** Wires `source` into one writer per assigned partition. */
export function createSinkStream(options: SinkStreamOptions): SinkStream {
  const { source, metrics, giveUp } = options;
  const stats = createSinkStats();
  // Room for the appends in flight and the next one being filled (~400 B a
  // message), so that fetching never waits for a write to make room.
  const maxHeldBytes = options.maxHeldBytes ??
    Math.min(8 * MIB, Math.max(MIB, (options.concurrency + 1) * options.maxRows * 400));
  const writers = new Map<number, PartitionWriter>();
  // Kept across rebalances: a partition that moves away and back keeps its count.
  const budgets = new Map<number, StreamBudget>();
  function budgetOf(partition: number): StreamBudget {
    let budget = budgets.get(partition);
    if (budget === undefined) {
      budgets.set(partition, budget = createStreamBudget(options.streamBudget));
    }
    return budget;
  }
  const waiting = new Set<number>();
  const blocked = new Map<number, Blocked>();
  const paused = new Set<number>();
  let owned: number[] = [];
  let failed = false;
  let stopping = false;
  let lastMessageAt = Date.now();
  let lastBlockedLog = -Infinity;
  let shownBlocked: Blocked | undefined;
  metrics.trackSink(stats);

  function shouldPause(partition: number): boolean {
    const writer = writers.get(partition);
    return stopping || blocked.size > 0 || waiting.has(partition) ||
      (writer !== undefined && writer.heldBytes >= maxHeldBytes);
  }

  /** Pauses or resumes each owned partition as its state asks. */
  function applyPauses(): void {
    const pause: number[] = [];
    const resume: number[] = [];
    for (const partition of owned) {
      const want = shouldPause(partition);
      if (want && !paused.has(partition)) pause.push(partition), paused.add(partition);
      // Resume only below 3/4 of the limit, so a full writer does not flip at every commit.
      const writer = writers.get(partition);
      const roomy = writer === undefined || writer.heldBytes < maxHeldBytes * 0.75;
      if (!want && paused.has(partition) && roomy) resume.push(partition), paused.delete(partition);
    }
    if (pause.length > 0) source.pause(pause);
    if (resume.length > 0) source.resume(resume);
  }

  function reportBlocked(): void {
    const problem = blocked.values().next().value;
    metrics.setBlocked(problem);
    if (problem === undefined) {
      if (shownBlocked !== undefined) {
        log.info("BigQuery takes rows again: resuming fetches");
        shownBlocked = undefined;
        lastBlockedLog = -Infinity;
      }
      return;
    }
    const changed = shownBlocked?.reason !== problem.reason;
    if (changed || Date.now() - lastBlockedLog >= BLOCKED_LOG_EVERY_MS) {
      log.error(
        "Cannot write to BigQuery ({reason}): {detail}. Fetching paused, offsets kept; retrying until it works",
        { reason: problem.reason, detail: problem.detail },
      );
      lastBlockedLog = Date.now();
      shownBlocked = problem;
    }
  }

  const decoder = playDecoder(options.maxFutureMs, options.schemaEvolution);
  const columns = createTableColumns(
    options.destination,
    options.onColumnsAdded === undefined ? {} : { onAdded: options.onColumnsAdded },
  );

  function startWriter(partition: number, previous?: PartitionWriter): PartitionWriter {
    /** Whether `writer` is still the partition's (not stopped and replaced). */
    const isCurrent = () => writers.get(partition) === writer;
    const writer: PartitionWriter = createPartitionWriter(partition, {
      committed: () => options.committed(partition),
      commit(nextOffset, metadata) {
        // Only the partition's current writer commits: one from before the
        // last assignment (revoked, or a zombie waking up after the group
        // moved on) stops instead of writing over the new owner's marker.
        if (writers.get(partition) !== writer) {
          void writer.stop();
          return Promise.reject(
            new Error(`Cannot commit partition ${partition}: it was assigned again since`),
          );
        }
        return source.commit(partition, nextOffset, metadata);
      },
      logStart: () => source.logStart(partition),
      seek: (offset) => {
        if (writers.get(partition) === writer) source.seek(partition, offset);
      },
    }, {
      topic: source.topic,
      destination: options.destination,
      table: options.table,
      columns,
      createTable: options.createTable,
      stats,
      limits: {
        maxRows: options.maxRows,
        maxBytes: options.maxBytes,
        maxWaitMs: options.maxWaitMs,
        concurrency: options.concurrency,
      },
      publish: async (letters) => {
        const limit = options.maxLetterBytes;
        if (limit === undefined) {
          await options.deadLetters.send(options.dlqTopic, letters);
          return;
        }
        const fitted = letters.map((letter) => fitLetter(letter, limit));
        const requests = limit < MAX_REQUEST_BYTES ? fitted.map((letter) => [letter]) : [fitted];
        for (const request of requests) await options.deadLetters.send(options.dlqTopic, request);
      },
      isTransientKafka: isTransientKafkaError,
      isMembershipLost: isMembershipError,
      decoder,
      streamBudget: budgetOf(partition),
      ...(options.schemaCheckMs === undefined ? {} : { schemaCheckMs: options.schemaCheckMs }),
      events: {
        streamCreated: metrics.streamCreated,
        stored: metrics.onInsert,
        acknowledged: (partition) => options.onAcknowledged?.(partition),
        committed(partition, nextOffset, highWatermark) {
          metrics.committed(partition, highWatermark - nextOffset);
          applyPauses();
        },
        retry(what, error, attempt, delayMs) {
          metrics.retried(what);
          log.warn("Cannot {what} ({error}); retry {attempt} in {delayMs} ms", {
            what: what === "insert"
              ? "insert into BigQuery"
              : what === "dead-letter"
              ? "publish dead letters"
              : "commit to Kafka",
            error: errorMessage(error),
            attempt,
            delayMs,
          });
        },
        backoff(partition, isWaiting) {
          if (!isCurrent()) return; // a replaced writer's wait is not the partition's
          const before = waiting.size;
          if (isWaiting) waiting.add(partition);
          else waiting.delete(partition);
          if (before === 0 && waiting.size > 0) {
            log.warn("Pausing fetches until writes succeed again");
          } else if (before > 0 && waiting.size === 0) {
            log.info("Writes succeed again: resuming fetches");
          }
          applyPauses();
        },
        blocked(partition, problem) {
          if (!isCurrent()) return;
          if (problem === undefined) blocked.delete(partition);
          else blocked.set(partition, problem);
          reportBlocked();
          applyPauses();
        },
        failed(_partition, error) {
          failed = true;
          log.error("Cannot go on: {error}", { error: errorMessage(error) });
        },
      },
    }, previous);
    writers.set(partition, writer);
    return writer;
  }

  /** Keeps the writer of `partition` across a rebalance, or replaces it when the group moved on. */
  async function keepWriter(partition: number): Promise<void> {
    const writer = writers.get(partition);
    if (writer === undefined) return;
    stats.writersKept++;
    if (await writer.keep() || writers.get(partition) !== writer) return;
    log.info(
      "Partition {partition}: the group's committed position is not this writer's last commit (another member owned it meanwhile): resuming from the group's",
      { partition },
    );
    stopWriter(partition);
    if (owned.includes(partition)) startWriter(partition, writer);
    applyPauses();
  }

  function stopWriter(partition: number): PartitionWriter | undefined {
    const writer = writers.get(partition);
    if (writer === undefined) return undefined;
    writers.delete(partition);
    waiting.delete(partition);
    blocked.delete(partition);
    void writer.stop();
    return writer;
  }

  giveUp.addEventListener("abort", () => {
    for (const partition of [...writers.keys()]) stopWriter(partition);
  }, { once: true });

  async function run({ stop, exitWhenIdleMs }: RunOptions): Promise<void> {
    source.onAssigned((partitions) => {
      log.info("Assigned partitions {partitions}", {
        partitions: partitions.length === 0
          ? "none"
          : [...partitions].sort((a, b) => a - b).join(","),
      });
      metrics.assigned(partitions);
      metrics.setUp(true);
      // A partition that stays keeps its writer (and its write stream): the
      // client reads it again from the committed offset, and the writer
      // drops what it holds already. Its commits wait until the group's
      // position is found to be its own last commit; if someone else owned
      // the partition meanwhile, a new writer resumes from the group's.
      for (const partition of [...writers.keys()]) {
        if (!partitions.includes(partition)) stopWriter(partition);
      }
      const kept = partitions.filter((partition) => writers.has(partition));
      owned = [...partitions];
      paused.clear();
      if (owned.length > 0) source.resume(owned);
      for (const partition of owned) if (!writers.has(partition)) startWriter(partition);
      for (const partition of kept) void keepWriter(partition);
      reportBlocked();
      applyPauses();
    });
    source.onRevoked((partitions) => {
      for (const partition of partitions) stopWriter(partition);
      owned = owned.filter((partition) => !partitions.includes(partition));
      reportBlocked();
    });
    source.onCrash((error, restarting) => {
      metrics.setUp(false);
      if (restarting) return;
      failed = true;
      log.error("Consumer crashed: {error}", { error: errorMessage(error) });
    });
    await source.run((batch) => {
      lastMessageAt = Date.now();
      // A batch of a partition this member no longer owns (fetched before a
      // rebalance) is left to the new owner: writing it could fence the
      // owner's stream and commit over its offsets.
      if (!owned.includes(batch.partition)) return Promise.resolve();
      const writer = writers.get(batch.partition) ?? startWriter(batch.partition);
      writer.add(batch.messages, batch.highWatermark, { fetchedFrom: batch.fetchedOffset });
      if (writer.heldBytes >= maxHeldBytes) applyPauses();
      return Promise.resolve();
    });

    // Wait for a stop signal, a failure, or (with exitWhenIdleMs) a quiet, caught-up topic.
    while (!stop.aborted && !failed) {
      await sleep(250, stop);
      metrics.refreshLag(() => source.lag());
      if (blocked.size > 0) reportBlocked();
      const held = [...writers.values()].some((writer) => writer.held > 0);
      if (held) lastMessageAt = Math.max(lastMessageAt, Date.now() - 1);
      if (exitWhenIdleMs === undefined || Date.now() - lastMessageAt < exitWhenIdleMs) continue;
      try {
        const behind = (await source.lag()).reduce((sum, p) => sum + p.lag, 0n);
        if (behind === 0n && Date.now() - lastMessageAt >= exitWhenIdleMs) {
          log.info("Caught up and idle for {seconds} s: stopping", {
            seconds: exitWhenIdleMs / 1000,
          });
          break;
        }
      } catch (error) {
        log.debug("Cannot read lag: {error}", { error: errorMessage(error) });
      }
    }
  }

  return {
    stats,
    run,
    async close() {
      metrics.setUp(false);
      stopping = true;
      applyPauses();
      // Store and commit what was read, finalize the streams, then leave the group.
      const running = [...writers.values()];
      await Promise.all(running.map((writer) => writer.close()));
      const abandoned = running.some((writer) => writer.held > 0);
      for (const partition of [...writers.keys()]) stopWriter(partition);
      await source.stop();
      return { failed, abandoned };
    },
  };
}
