/**
 * The dashboard's state, kept complete and current, whatever the topic
 * holds. A *generation* is a counter built from one set of anchors (the
 * BigQuery consumer's committed offsets):
 *
 * 1. read the anchors; start reading Kafka from exactly them (live counting
 *    starts at once);
 * 2. ask BigQuery for the aggregated history below them and add it
 *    (retried while BigQuery is away: meanwhile the numbers are live but
 *    without history, and the state says `degraded` with the reason);
 * 3. `live` once the history is in and Kafka was read to its end.
 *
 * Every `reanchorEveryMs` a new generation is built the same way from the
 * newer committed offsets, in the background, and replaces the current one
 * once it is live. So whatever drifted from BigQuery (a play re-sent further
 * apart than the dedup horizon, a row BigQuery refused) is set right, and
 * "all time" stays BigQuery's even after Kafka's retention deleted the old
 * records. Re-anchoring asks all time only for what changed since the
 * previous anchors (history.ts), and nothing when no offset moved.
 *
 * Start cost and memory depend on the catalog and the windows, not on the
 * history: two BigQuery queries and the records above the committed
 * offsets (the consumer's lag).
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import { type Warehouse } from "../../bigquery/mod.ts";
import { createAdmin, ensureTopic, type KafkaClient } from "../../kafka/mod.ts";
import { backoffDelay, logger, sleep } from "../../ops/mod.ts";
import {
  describeAnchors,
  type PartitionAnchor,
  readAnchors,
  type ReadAnchorsOptions,
  storedOffsets,
} from "./anchors.ts";
import { type History, loadHistory, type PreviousHistory, seedCounter } from "./history.ts";
import { type FeedStats, type PlayFeed, startPlayFeed } from "./play_feed.ts";
import { readerLag } from "./reader_lag.ts";
import { createPlayCounter, type PlayCounter } from "../counting/mod.ts";

const log = logger("dashboard");

/** The table's stored offsets, needed to anchor partitions without a commit, cannot be read. */
class StoredOffsetsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoredOffsetsError";
  }
}

/** Consumer lag above which re-anchoring waits (re-reading it would cost more than it fixes). */
const MAX_REANCHOR_LAG = 1_000_000n;
/** Longest wait for a new generation to catch up before it is given up. */
const CATCH_UP_TIMEOUT_MS = 120_000;

/** Options of {@linkcode createLiveFeed}. */
export interface LiveFeedOptions {
  topic: string;
  /** Partitions of the topic if it has to be created. */
  partitions: number;
  /**
   * Count only these partitions of the topic (a dashboard sharded by
   * partition: with plays keyed by artist, each shard holds its artists
   * whole); default all.
   */
  onlyPartitions?: readonly number[] | undefined;
  /** Group of the BigQuery consumer: its committed offsets are the anchors. */
  group: string;
  warehouse: Warehouse;
  allowedLatenessMs: number;
  dedupHorizonMs: number;
  /** How often to re-anchor; 0 only anchors at start. */
  reanchorEveryMs: number;
  /** How far ahead of the clock an event time may be (default 5 minutes). */
  maxFutureMs?: number;
  /** How often the reader's lag is checked (default 5 s). */
  lagEveryMs?: number;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
}

/** Whether the numbers are complete. */
export type LiveState = "starting" | "catching-up" | "live" | "degraded";

/** What `/healthz` and the page say about the numbers. */
export interface LiveStatus {
  /**
   * `starting` until Kafka was reached, `catching-up` while the history
   * loads or Kafka is read to its end, `live` when the numbers are complete,
   * `degraded` while BigQuery's history is missing (live plays only).
   */
  state: LiveState;
  /** `down` when Kafka cannot be read, `degraded` when BigQuery cannot be reached. */
  health: "ok" | "degraded" | "down";
  /** Why, one sentence each. */
  problems: string[];
}

/** Where the current numbers come from. */
export interface AnchorInfo {
  /** `partition:offset` below which BigQuery's history was taken. */
  anchors: string;
  anchored_at: string;
  /** When BigQuery's history was added (`null` while missing). */
  history_at: string | null;
  /** Queries it took (0: nothing below the anchors). */
  history_queries: number;
  /** Re-anchorings done since start. */
  reanchored: number;
}

/** The dashboard's counts, kept running. */
export interface LiveFeed {
  /** The counter of the current generation. */
  counter(): PlayCounter;
  status(): LiveStatus;
  /** Counters of the current generation's Kafka reader; undefined before it runs. */
  readonly stats: FeedStats | undefined;
  /** Anchors of the current generation; undefined before Kafka was reached. */
  readonly anchor: AnchorInfo | undefined;
  /** Whether the numbers are complete (`state` is `live`). */
  isLive(): boolean;
  /**
   * Messages in the topic the reader has not counted yet, checked every
   * `lagEveryMs` while running; undefined before the first check.
   */
  readonly lag: number | undefined;
  /** Milliseconds from process start until the numbers were first complete; undefined before. */
  readonly liveAfterMs: number | undefined;
  /** Anchors, reads and re-anchors until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Stops reading. */
  stop(): Promise<void>;
}

interface Generation {
  counter: PlayCounter;
  anchors?: PartitionAnchor[];
  anchoredAt?: number;
  feed?: PlayFeed;
  /** When BigQuery's history below the anchors was added; undefined until then. */
  historyAt?: number;
  queries: number;
}

function sameAnchors(a: readonly PartitionAnchor[], b: readonly PartitionAnchor[]): boolean {
  return a.length === b.length &&
    a.every((anchor, i) => anchor.partition === b[i]!.partition && anchor.below === b[i]!.below);
}

/**
 * All time below `old`'s anchors plus what lies between them and `anchors`
 * can be asked for as a change when `old` read every offset in between from
 * Kafka (so the earliest event time there is known); undefined otherwise.
 */
export function previousHistory(
  old: {
    anchors: readonly PartitionAnchor[];
    stats: Pick<FeedStats, "contiguous" | "minEventAt">;
    position: (partition: number) => bigint | undefined;
  },
  anchors: readonly PartitionAnchor[],
): PreviousHistory | undefined {
  if (!old.stats.contiguous || old.anchors.length !== anchors.length) return undefined;
  for (const anchor of anchors) {
    const was = old.anchors.find((p) => p.partition === anchor.partition);
    if (was === undefined || was.start !== was.below || anchor.below < was.below) return undefined;
    const at = old.position(anchor.partition);
    if (at === undefined || at < anchor.below) return undefined;
  }
  return { anchors: old.anchors, since: old.stats.minEventAt };
}

/** Creates the feed; nothing is read before {@linkcode LiveFeed.run}. */
export function createLiveFeed(kafka: KafkaClient, options: LiveFeedOptions): LiveFeed {
  const { topic, group, warehouse } = options;
  const now = options.now ?? Date.now;
  const newGeneration = (): Generation => ({
    counter: createPlayCounter({
      allowedLatenessMs: options.allowedLatenessMs,
      dedupHorizonMs: options.dedupHorizonMs,
      now: now(),
    }),
    queries: 0,
  });
  let current = newGeneration();
  let building: Generation | undefined;
  let kafkaProblem: string | undefined;
  let bigqueryProblem: string | undefined;
  let reanchored = 0;
  let invalidLogged = 0;
  let liveAfterMs: number | undefined;
  let lag: number | undefined;
  let uncommittedWarned = false;
  let stopped = false;
  // A group without commits (not the consumer's?) is anchored on what the
  // table holds, never on the topic's start: no silent replay of it all.
  const anchoring: ReadAnchorsOptions = {
    ...(options.onlyPartitions === undefined ? {} : { partitions: options.onlyPartitions }),
    stored: async () => {
      try {
        return await storedOffsets(warehouse);
      } catch (error) {
        throw new StoredOffsetsError(
          `BigQuery: cannot read the stored offsets of ${topic}, needed as group ${group} has ` +
            `not committed there (${errorMessage(error)})`,
        );
      }
    },
    onUncommitted: (anchors) => {
      if (uncommittedWarned) return;
      uncommittedWarned = true;
      if (anchors.every((anchor) => anchor.below === 0n)) {
        // Nothing committed and nothing stored yet: a pipeline just started.
        log.info(
          "Group {group} has not committed on {topic} yet and the table holds none of its records: counting from the start",
          { group, topic },
        );
        return;
      }
      log.warn(
        "Group {group} has no committed offset on {topic} in partitions with records " +
          "({partitions}): is it the BigQuery consumer's group (--group, KAFKA_GROUP)? " +
          "Anchored on what the table holds instead (largest kafka_offset + 1: {anchors})",
        {
          group,
          topic,
          partitions: anchors.map((anchor) => anchor.partition).join(","),
          anchors: describeAnchors(anchors),
        },
      );
    },
  };

  /** Checks the reader's lag every `lagEveryMs` until `signal` aborts. */
  async function watchLag(signal: AbortSignal): Promise<void> {
    const admin = createAdmin(kafka);
    try {
      while (!signal.aborted) {
        const feed = current.feed;
        if (feed !== undefined) {
          try {
            lag = readerLag(await admin.topicOffsets(topic), feed.position);
          } catch {
            lag = undefined; // Kafka away: the status says so
          }
        }
        // Until the reader runs, look again soon.
        await sleep(feed === undefined ? 250 : options.lagEveryMs ?? 5_000, signal);
      }
    } finally {
      await admin.close().catch(() => {});
    }
  }

  /** Notes (once) when the first generation's numbers became complete. */
  function noteLive(): void {
    if (liveAfterMs !== undefined || status().state !== "live") return;
    liveAfterMs = Math.round(performance.now()); // since the process started
    log.info("Live {ms} ms after start: {plays} plays from BigQuery, {read} read from Kafka", {
      ms: liveAfterMs,
      plays: current.counter.stats.seeded,
      read: current.feed?.stats.read ?? 0,
    });
  }

  function feedOf(generation: Generation, anchors: PartitionAnchor[]): Promise<PlayFeed> {
    const started = now();
    return startPlayFeed(kafka, {
      topic,
      counter: generation.counter,
      anchors,
      ...(options.onlyPartitions === undefined ? {} : { partitions: options.onlyPartitions }),
      now,
      ...(options.maxFutureMs === undefined ? {} : { maxFutureMs: options.maxFutureMs }),
      onCaughtUp: (stats) => {
        log.debug("Kafka read to its end from {anchors}: {read} messages in {ms} ms", {
          anchors: describeAnchors(anchors),
          read: stats.read,
          ms: now() - started,
        });
        // May be called from inside the feed's start: look once it is assigned.
        setTimeout(noteLive, 0);
      },
      onInvalid: (error, partition, offset) => {
        if (invalidLogged++ < 5) {
          log.warn("Skipping message {partition}@{offset}: {error}", {
            partition,
            offset,
            error: error.message,
          });
        }
      },
      onCrash: (error) =>
        log.error("Kafka reader stopped: {error}; restarting", { error: errorMessage(error) }),
      onRecovered: () => log.info("Kafka reader runs again"),
    });
  }

  /** Anchors `generation` and starts its reader (throws when Kafka cannot be read). */
  async function anchor(generation: Generation, anchors: PartitionAnchor[]): Promise<void> {
    generation.anchors = anchors;
    generation.anchoredAt = now();
    generation.feed = await feedOf(generation, anchors);
    // Stopped while the reader was being started: it stops too.
    if (stopped) await generation.feed.stop().catch(() => {});
  }

  async function withAdmin<T>(use: (admin: ReturnType<typeof createAdmin>) => Promise<T>) {
    const admin = createAdmin(kafka);
    try {
      return await use(admin);
    } finally {
      await admin.close().catch(() => {});
    }
  }

  /** Notes that `history` went into the generation's counter (as it was read). */
  function addHistory(generation: Generation, history: History): void {
    generation.historyAt = now();
    generation.queries = history.queries;
  }

  /** Notes a Kafka problem at start and waits before the next try. */
  async function kafkaNotReady(error: unknown, signal: AbortSignal): Promise<void> {
    if (error instanceof StoredOffsetsError) {
      kafkaProblem = `${error.message}; retrying`;
      log.warn("{error}; retrying in 3 s", { error: error.message });
    } else {
      kafkaProblem = `Kafka: cannot read ${topic} (${errorMessage(error)}); retrying`;
      log.warn("Kafka not ready ({error}); retrying in 3 s", { error: errorMessage(error) });
    }
    await sleep(3_000, signal);
  }

  /** Reads the first generation's anchors (the group's commits), retrying until Kafka answers. */
  async function anchorFirst(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && current.anchors === undefined) {
      try {
        await ensureTopic(kafka, topic, options.partitions);
        current.anchors = await withAdmin((admin) => readAnchors(admin, group, topic, anchoring));
        current.anchoredAt = now();
      } catch (error) {
        await kafkaNotReady(error, signal);
      }
    }
  }

  /**
   * Starts the reader of `generation` from its anchors, retrying until
   * Kafka takes it, while it is the current one. Runs beside the history's
   * load: joining a new group takes Kafka's initial rebalance delay (3 s by
   * default), which the start need not wait for before asking BigQuery.
   */
  async function startReader(generation: Generation, signal: AbortSignal): Promise<void> {
    const anchors = generation.anchors!;
    while (!signal.aborted && generation === current && generation.feed === undefined) {
      try {
        await anchor(generation, anchors);
        kafkaProblem = undefined;
        log.info("Reading {topic} from the committed offsets of {group} ({anchors})", {
          topic,
          group,
          anchors: describeAnchors(anchors),
        });
      } catch (error) {
        await kafkaNotReady(error, signal);
      }
    }
  }

  /** The first generation's reader being started (see `startReader`). */
  let readerStarted: Promise<void> = Promise.resolve();

  /** Anchors the first generation and starts its reader, without waiting for the reader. */
  async function startFirst(signal: AbortSignal): Promise<void> {
    await anchorFirst(signal);
    if (!signal.aborted) readerStarted = startReader(current, signal);
  }

  /** Replaces the first generation with a new one, anchored afresh. */
  async function startOver(signal: AbortSignal): Promise<void> {
    log.warn(
      "Starting over on new anchors: the history failed after part of it was counted " +
        "({plays} plays of all time)",
      { plays: current.counter.stats.seeded },
    );
    const old = current;
    current = newGeneration();
    await readerStarted; // ends once `old` is not current, its reader started or not
    await old.feed?.stop().catch(() => {});
    await startFirst(signal);
  }

  async function loadFirstHistory(signal: AbortSignal): Promise<void> {
    const since = new Date(now()).toISOString();
    for (let attempt = 1; !signal.aborted; attempt++) {
      const started = now();
      const sink = seedCounter(current.counter);
      try {
        const history = await loadHistory(warehouse, {
          anchors: current.anchors ?? [],
          now: now(),
          allowedLatenessMs: options.allowedLatenessMs,
          ...(options.maxFutureMs === undefined ? {} : { maxFutureMs: options.maxFutureMs }),
        }, sink);
        addHistory(current, history);
        bigqueryProblem = undefined;
        log.info(
          "History below {anchors} from BigQuery in {ms} ms: {plays} plays of {songs} songs",
          {
            anchors: describeAnchors(current.anchors ?? []),
            ms: now() - started,
            plays: current.counter.stats.seeded,
            songs: history.songs,
            queries: history.queries,
          },
        );
        noteLive();
        return;
      } catch (error) {
        if (signal.aborted) return;
        const delayMs = backoffDelay(attempt, { initialMs: 1_000, maxMs: 30_000 });
        bigqueryProblem = `BigQuery unreachable (${
          errorMessage(error)
        }): the history is missing, only plays read from Kafka since ${since} are counted; retrying`;
        // Said at the first failure and then every tenth, not at every retry.
        const level = attempt === 1 || attempt % 10 === 0 ? "error" : "debug";
        log[level]("Cannot load the history from BigQuery: {error}; retrying in {delayMs} ms", {
          error: errorMessage(error),
          delayMs,
          attempt,
        });
        // The history is counted as it is read: a load that failed half way
        // left part of it counted, so the next attempt starts on a new counter,
        // anchored afresh (what Kafka holds above the anchors is read again).
        if (sink.touched) await startOver(signal);
        await sleep(delayMs, signal);
      }
    }
  }

  /** Builds a generation from the newest anchors; true when it replaced the current one. */
  async function reanchor(signal: AbortSignal): Promise<boolean> {
    const old = current;
    if (old.historyAt === undefined || old.feed === undefined || old.anchors === undefined) {
      return false;
    }
    let anchors: PartitionAnchor[];
    try {
      anchors = await withAdmin((admin) => readAnchors(admin, group, topic, anchoring));
    } catch (error) {
      log.warn("Cannot re-anchor: {error}", { error: errorMessage(error) });
      return false;
    }
    if (sameAnchors(anchors, old.anchors)) return false; // BigQuery holds nothing new
    const lag = anchors.reduce((sum, a) => sum + (a.end - a.start), 0n);
    if (lag > MAX_REANCHOR_LAG) {
      log.info("Not re-anchoring: the consumer is {lag} messages behind", { lag });
      return false;
    }
    const previous = previousHistory({
      anchors: old.anchors,
      stats: old.feed.stats,
      position: old.feed.position,
    }, anchors);
    const next = newGeneration();
    building = next;
    const started = now();
    try {
      try {
        await anchor(next, anchors);
      } catch (error) {
        log.warn("Cannot re-anchor: {error}", { error: errorMessage(error) });
        return false;
      }
      // Asked as a change, all time starts from what the old counter was
      // seeded with: BigQuery's plays below the old anchors.
      if (previous !== undefined) {
        next.counter.reserve(old.counter.stats.allTimeSongs, 0);
        old.counter.forEachSeeded((song) => next.counter.seedSong(song));
      }
      try {
        addHistory(
          next,
          await loadHistory(warehouse, {
            anchors,
            now: now(),
            allowedLatenessMs: options.allowedLatenessMs,
            ...(options.maxFutureMs === undefined ? {} : { maxFutureMs: options.maxFutureMs }),
            ...(previous === undefined ? {} : { previous }),
          }, seedCounter(next.counter)),
        );
      } catch (error) {
        bigqueryProblem = `BigQuery unreachable (${
          errorMessage(error)
        }): counts are kept from Kafka but not re-checked since ${
          new Date(old.historyAt ?? started).toISOString()
        }; retrying`;
        log.error("Cannot re-anchor: BigQuery: {error}", { error: errorMessage(error) });
        return false;
      }
      const until = now() + CATCH_UP_TIMEOUT_MS;
      while (!next.feed!.stats.caughtUp && !signal.aborted && now() < until) {
        await sleep(100, signal);
      }
      if (!next.feed!.stats.caughtUp) return false;
      current = next;
      building = undefined;
      bigqueryProblem = undefined;
      reanchored++;
      log.info("Re-anchored at {anchors} in {ms} ms ({kind})", {
        anchors: describeAnchors(anchors),
        ms: now() - started,
        kind: previous === undefined ? "all time in full" : "all time since the last anchors",
      });
      await old.feed.stop().catch(() => {});
      return true;
    } finally {
      if (building === next) {
        building = undefined;
        await next.feed?.stop().catch(() => {});
      }
    }
  }

  function status(): LiveStatus {
    const problems: string[] = [];
    const kafkaDown = kafkaProblem ?? current.feed?.problem;
    if (kafkaDown !== undefined) problems.push(kafkaDown);
    if (bigqueryProblem !== undefined) problems.push(bigqueryProblem);
    const state: LiveState = current.feed === undefined
      ? "starting"
      : current.historyAt === undefined
      ? (bigqueryProblem === undefined ? "catching-up" : "degraded")
      : current.feed.stats.caughtUp
      ? "live"
      : "catching-up";
    const health = kafkaDown !== undefined
      ? "down"
      : bigqueryProblem !== undefined || state === "degraded"
      ? "degraded"
      : "ok";
    return { state, health, problems };
  }

  return {
    counter: () => current.counter,
    status,
    get stats() {
      return current.feed?.stats;
    },
    get anchor() {
      const { anchors, anchoredAt, historyAt } = current;
      if (anchors === undefined || anchoredAt === undefined) return undefined;
      return {
        anchors: describeAnchors(anchors),
        anchored_at: new Date(anchoredAt).toISOString(),
        history_at: historyAt === undefined ? null : new Date(historyAt).toISOString(),
        history_queries: current.queries,
        reanchored,
      };
    },
    isLive: () => status().state === "live",
    get liveAfterMs() {
      return liveAfterMs;
    },
    get lag() {
      return lag;
    },
    async run(signal) {
      const lagWatched = watchLag(signal);
      await startFirst(signal);
      await loadFirstHistory(signal);
      await readerStarted;
      let waitMs = options.reanchorEveryMs;
      while (!signal.aborted && options.reanchorEveryMs > 0) {
        await sleep(waitMs, signal);
        if (signal.aborted) break;
        await reanchor(signal);
        // After a failure try again sooner than the interval.
        waitMs = bigqueryProblem === undefined
          ? options.reanchorEveryMs
          : Math.min(options.reanchorEveryMs, 60_000);
      }
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await lagWatched;
    },
    async stop() {
      stopped = true;
      await building?.feed?.stop().catch(() => {});
      await current.feed?.stop().catch(() => {});
    },
  };
}
