/**
 * The dashboard's self-check, run now and then: when the feed is live and
 * quiet and the BigQuery consumer has no lag, the dashboard's counts and
 * BigQuery's must be equal; a difference is logged with examples.
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import { createAdmin, type KafkaClient } from "../../kafka/mod.ts";
import { logger, sleep } from "../../ops/mod.ts";
import type { FeedStats } from "../feed/play_feed.ts";
import type { GatedReconciliation } from "./reconcile_gate.ts";
import type { PlayCounter } from "../counting/mod.ts";

const log = logger("dashboard");

/** Options of {@linkcode reconcileWhenQuiet}. */
export interface ReconcileLoopOptions {
  /** How often to compare; 0 never does. */
  everyMs: number;
  /** The plays topic and the group of the consumer writing it to BigQuery. */
  topic: string;
  group: string;
  /** The current counter. */
  counter: () => PlayCounter;
  /** Whether the numbers are complete (history loaded, Kafka read to its end). */
  isLive: () => boolean;
  /** The feed's counters (undefined before it runs). */
  feed: () => FeedStats | undefined;
  /** Compares the counts with BigQuery's (through the gate of /api/reconcile). */
  check: () => Promise<GatedReconciliation>;
  /** Ends the loop. */
  signal: AbortSignal;
}

/**
 * Compares with BigQuery every `everyMs` (the first time after at most
 * 10 s) while the feed is live, nothing was read for 3 s and the consumer
 * group `group` has committed everything; returns once `signal` aborts.
 */
export async function reconcileWhenQuiet(
  kafka: KafkaClient,
  options: ReconcileLoopOptions,
): Promise<void> {
  const { everyMs, topic, group, counter, signal } = options;
  if (everyMs === 0) return;
  const admin = createAdmin(kafka);
  let nextCheck = Date.now() + Math.min(everyMs, 10_000);
  let lastEqual = "";
  try {
    while (!signal.aborted) {
      await sleep(500, signal);
      const feed = options.feed();
      if (Date.now() < nextCheck || feed === undefined || !options.isLive()) continue;
      if (Date.now() - (feed.lastReadAt ?? 0) < 3_000) continue;
      nextCheck = Date.now() + everyMs;
      try {
        const lag = (await admin.groupLag(group, topic))
          .reduce((sum, partition) => sum + partition.lag, 0n);
        if (lag > 0n) {
          log.debug("Not reconciling: consumer {group} is {lag} behind", { group, lag });
          continue;
        }
        const gated = await options.check();
        const result = gated.result;
        if (result === undefined) throw new Error(gated.error ?? "no answer");
        const summary = result.windows.map((w) => `${w.window} ${w.dashboard}`).join(", ");
        if (result.equal) {
          // Said once per state, not every interval of a quiet afternoon.
          const message = "Reconciled with BigQuery: every window equal ({summary})";
          if (summary === lastEqual) log.debug(message, { summary });
          else log.info(message, { summary });
          lastEqual = summary;
        } else {
          lastEqual = "";
          log.warn("Reconciliation: dashboard and BigQuery differ ({summary})", {
            summary: result.windows.map((w) => `${w.window} ${w.dashboard} vs ${w.bigquery}`)
              .join(", "),
            late: counter().stats.late,
            differences: result.windows.flatMap((w) =>
              w.differences.slice(0, 3).map((d) => ({ window: w.window, ...d }))
            ),
          });
        }
      } catch (error) {
        log.warn("Cannot reconcile with BigQuery: {error}", { error: errorMessage(error) });
      }
    }
  } finally {
    await admin.close().catch(() => {});
  }
}
