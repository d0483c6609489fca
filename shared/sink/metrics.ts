/**
 * The consumer's metrics and health state: the `livecharts_consumer_*`
 * series, the lag of the partitions this member owns, the time of its last
 * commit, and the `/healthz` verdict built from them.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { checkHealth, logger } from "../ops/mod.ts";
import { Counter, createRegistry, Gauge, Histogram, type Registry } from "../ops/mod.ts";
import type { HealthReport } from "../ops/mod.ts";
import type { SinkStats, WriterStats } from "./sink.ts";
import type { Blocked, BlockReason, RetryWhat } from "./partition/mod.ts";

/** Every reason the consumer can be blocked for (each a `livecharts_consumer_blocked` series). */
export const BLOCK_REASONS: readonly BlockReason[] = [
  "table-missing",
  "permission-denied",
  "schema-mismatch",
  "refused",
];

/** Rows per append (or insertAll call). */
export const BATCH_ROWS_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000];
/** Seconds per append (or insertAll call). */
export const INSERT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Options of {@linkcode createConsumerMetrics}. */
export interface ConsumerMetricsOptions {
  /** `--stuck-after` in milliseconds. */
  stuckAfterMs: number;
  /** Wall clock in epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** Adds the default process and runtime metrics (default true; see `createRegistry`). */
  defaultMetrics?: boolean;
}

/** Lag of one partition as measured from the broker. */
export interface MeasuredLag {
  partition: number;
  lag: bigint;
}

/** The consumer's metrics. */
export interface ConsumerMetrics {
  readonly registry: Registry;
  /** Reads consumed, inserted and dead-letter counts (and the writers' own) from the sink's stats at scrape time. */
  trackSink(stats: SinkStats & Partial<WriterStats>): void;
  /** The sink's `onInsert` hook. */
  onInsert(rows: number, millis: number): void;
  /** Counts a retry of an insert, a dead-letter publish or a commit. */
  retried(operation: RetryWhat): void;
  /** Counts a write stream creation of `partition` (`probe`: a PENDING one to find refused rows). */
  streamCreated(partition: number, kind: "committed" | "probe"): void;
  /** The destination is unusable (a problem), or usable again (undefined): `/healthz` and `livecharts_consumer_blocked`. */
  setBlocked(problem: Blocked | undefined): void;
  /** The partitions the group gave this member (after each rebalance). */
  assigned(partitions: readonly number[]): void;
  /** A commit of `partition`, leaving `lag` messages behind it: progress. */
  committed(partition: number, lag: bigint): void;
  /** Measures lag now and then (throttled, one at a time); call it often. */
  refreshLag(measure: () => Promise<readonly MeasuredLag[]>): void;
  /** Messages behind on the owned partitions, as last known (0 when unknown). */
  totalLag(): bigint;
  /** Sets `livecharts_consumer_up`. */
  setUp(up: boolean): void;
  /** The `/healthz` verdict. */
  health(): HealthReport;
}

const log = logger("consumer", "health");

/**
 * Creates the registry with every consumer metric, next to the default
 * process and runtime metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createConsumerMetrics } from "./metrics.ts";
 * let now = 0;
 * const metrics = createConsumerMetrics({ stuckAfterMs: 60_000, now: () => now });
 * metrics.assigned([0, 1]);
 * metrics.committed(0, 5n);
 * metrics.committed(1, 0n);
 * const text = await metrics.registry.metrics();
 * assert.match(text, /^livecharts_consumer_lag\{partition="0"\} 5$/m);
 * assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
 * now = 61_000;
 * assert.equal(metrics.health().healthy, false);
 * ```
 */
export function createConsumerMetrics(options: ConsumerMetricsOptions): ConsumerMetrics {
  const now = options.now ?? Date.now;
  const started = now();
  let stats: (SinkStats & Partial<WriterStats>) | undefined;
  let owned: Set<number> | undefined;
  /** Last known lag of each partition and when it was measured. */
  const lag = new Map<number, { behind: bigint; at: number }>();
  let lastProgressAt = started;
  let refreshing = false;
  let lastRefreshAt = -Infinity;
  let lastStatus: string | undefined;
  const refreshEveryMs = Math.min(5_000, Math.max(250, options.stuckAfterMs / 2));

  const registry = createRegistry({ defaultMetrics: options.defaultMetrics ?? true });
  const registers = [registry];
  // The sink counts; these counters take its totals at scrape time.
  new Counter({
    name: "livecharts_consumer_messages_consumed_total",
    help: "Messages read from the source topic",
    registers,
    collect() {
      this.reset();
      this.inc(stats?.consumed ?? 0);
    },
  });
  new Counter({
    name: "livecharts_consumer_rows_inserted_total",
    help: "Rows BigQuery acknowledged",
    registers,
    collect() {
      this.reset();
      this.inc(stats?.inserted ?? 0);
    },
  });
  const fromStats = (
    name: string,
    help: string,
    read: (s: SinkStats & Partial<WriterStats>) => number | undefined,
  ) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(stats === undefined ? 0 : read(stats) ?? 0);
      },
    });
  fromStats(
    "livecharts_consumer_rows_skipped_total",
    "Rows re-read after a restart or rebalance that BigQuery already held (not written again)",
    (s) => s.skipped,
  );
  fromStats(
    "livecharts_consumer_rows_rewritten_total",
    "Rows written again without knowing whether they were stored (a write stream was lost): possible duplicates",
    (s) => s.rewritten,
  );
  fromStats(
    "livecharts_consumer_streams_lost_total",
    "Write streams that could not be found when their row count was needed (at least once for their gap)",
    (s) => s.streamsLost,
  );
  fromStats(
    "livecharts_consumer_appends_resent_total",
    "Appends sent again, unchanged, on the same write stream after no answer or a busy BigQuery",
    (s) => s.resent,
  );
  const streamsCreated = new Counter({
    name: "livecharts_consumer_write_streams_created_total",
    help:
      "Write stream creations asked for, by partition and kind (BigQuery allows about 10,000 an hour per project and region)",
    labelNames: ["partition", "kind"],
    registers,
  });
  fromStats(
    "livecharts_consumer_stale_batches_total",
    "Batches dropped as stale (fetched before a rebalance from past the committed offset) and fetched again",
    (s) => s.staleBatches,
  );
  new Counter({
    name: "livecharts_consumer_dead_letters_total",
    help: "Messages sent to the dead-letter topic (acknowledged by Kafka), by reason",
    labelNames: ["reason"],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(stats?.deadLettered ?? {})) {
        this.inc({ reason }, count);
      }
    },
  });
  const retries = new Counter({
    name: "livecharts_consumer_retries_total",
    help: "Retries of transient failures, by operation",
    labelNames: ["operation"],
    registers,
  });
  retries.inc({ operation: "insert" }, 0);
  retries.inc({ operation: "dead-letter" }, 0);
  retries.inc({ operation: "commit" }, 0);
  const blockedGauge = new Gauge({
    name: "livecharts_consumer_blocked",
    help:
      "1 while BigQuery cannot take rows for this reason (fetching paused, offsets kept), else 0",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of BLOCK_REASONS) blockedGauge.set({ reason }, 0);
  let blocked: Blocked | undefined;
  const batchRows = new Histogram({
    name: "livecharts_consumer_batch_rows",
    help: "Rows stored per BigQuery append (or insertAll call)",
    buckets: BATCH_ROWS_BUCKETS,
    registers,
  });
  const insertSeconds = new Histogram({
    name: "livecharts_consumer_insert_seconds",
    help: "Duration of acknowledged BigQuery appends (or insertAll calls)",
    buckets: INSERT_SECONDS_BUCKETS,
    registers,
  });
  const lagGauge = new Gauge({
    name: "livecharts_consumer_lag",
    help: "Messages behind the end of each partition this consumer owns",
    labelNames: ["partition"],
    registers,
  });
  const lastCommit = new Gauge({
    name: "livecharts_consumer_last_commit_timestamp_seconds",
    help: "Unix time of the last offset commit (0 before the first)",
    registers,
  });
  const up = new Gauge({
    name: "livecharts_consumer_up",
    help: "1 while the consumer is running in its group, 0 otherwise",
    registers,
  });

  function setLag(partition: number, value: bigint): void {
    if (owned !== undefined && !owned.has(partition)) return;
    const behind = value > 0n ? value : 0n;
    lag.set(partition, { behind, at: now() });
    lagGauge.labels({ partition }).set(Number(behind));
  }

  function totalLag(): bigint {
    let sum = 0n;
    for (const { behind } of lag.values()) sum += behind;
    return sum;
  }

  function health(): HealthReport {
    const at = now();
    if (blocked !== undefined) {
      return {
        healthy: false,
        status: "blocked",
        reason: blocked.detail,
        details: {
          blocked: blocked.reason,
          partitions: owned === undefined ? null : [...owned].sort((a, b) => a - b),
        },
      };
    }
    // Known when every owned partition was measured; as old as the oldest measurement.
    const measured = owned === undefined ? undefined : [...owned].map((p) => lag.get(p));
    const known = measured !== undefined && measured.every((entry) => entry !== undefined);
    const behind = known ? totalLag() : undefined;
    const verdict = checkHealth({
      now: at,
      lastProgressAt,
      lag: behind,
      lagMeasuredAt: known ? Math.min(at, ...measured.map((entry) => entry?.at ?? 0)) : undefined,
      stuckAfterMs: options.stuckAfterMs,
    });
    return {
      ...verdict,
      details: {
        lag: behind === undefined ? null : Number(behind),
        partitions: owned === undefined ? null : [...owned].sort((a, b) => a - b),
        last_progress_seconds_ago: Math.round((at - lastProgressAt) / 1000),
        stuck_after_seconds: options.stuckAfterMs / 1000,
      },
    };
  }

  function logTransition(): void {
    const verdict = health();
    if (verdict.status === lastStatus) return;
    if (!verdict.healthy) log.warn("Unhealthy: {reason}", { reason: verdict.reason });
    else if (lastStatus !== undefined) {
      log.info("Healthy again: {reason}", { reason: verdict.reason });
    }
    lastStatus = verdict.status;
  }

  return {
    registry,
    trackSink(sinkStats) {
      stats = sinkStats;
    },
    onInsert(rows, millis) {
      batchRows.observe(rows);
      insertSeconds.observe(millis / 1000);
    },
    retried(operation) {
      retries.inc({ operation });
    },
    streamCreated(partition, kind) {
      streamsCreated.inc({ partition: String(partition), kind });
    },
    setBlocked(problem) {
      blocked = problem;
      for (const reason of BLOCK_REASONS) {
        blockedGauge.set({ reason }, problem?.reason === reason ? 1 : 0);
      }
    },
    assigned(partitions) {
      owned = new Set(partitions);
      for (const partition of [...lag.keys()]) {
        if (!owned.has(partition)) {
          lag.delete(partition);
          lagGauge.remove({ partition });
        }
      }
    },
    committed(partition, behind) {
      const at = now();
      lastProgressAt = at;
      lastCommit.set(at / 1000);
      setLag(partition, behind);
    },
    refreshLag(measure) {
      if (refreshing || now() - lastRefreshAt < refreshEveryMs) return;
      refreshing = true;
      lastRefreshAt = now();
      measure().then((partitions) => {
        for (const { partition, lag: behind } of partitions) setLag(partition, behind);
      }, (error) => {
        log.debug("Cannot measure lag: {error}", { error: errorMessage(error) });
      }).finally(() => {
        refreshing = false;
        logTransition();
      });
    },
    totalLag,
    setUp(running) {
      up.set(running ? 1 : 0);
    },
    health,
  };
}
