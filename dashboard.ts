/**
 * `deno task dashboard`: the live chart. Starts from BigQuery's aggregated
 * history below the BigQuery consumer's committed offsets, reads the plays
 * topic from exactly those offsets on (so start time and memory do not
 * depend on how much the topic holds), counts plays in sliding event-time
 * windows, and serves the page, the JSON API and a Server-Sent Events
 * stream. Re-anchors to BigQuery now and then, and checks itself against it
 * when the pipeline is quiet.
 *
 * Flow: BigQuery history + Kafka topic → decode → windowed counter → HTTP/SSE.
 *
 * @module
 */

import { openWarehouse } from "./shared/bigquery/mod.ts";
import { errorMessage } from "./shared/errors.ts";
import { parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { createKafka, installKafkaPatches } from "./shared/kafka/mod.ts";
import {
  createLiveFeed,
  createReconcileGate,
  ensureTopSongsViewSoon,
  reconcile,
  reconcileWhenQuiet,
  serveDashboard,
  startDashboardProgress,
  waitOutCrashLoop,
} from "./shared/live/mod.ts";
import { logFatal, logger, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import { dashboardOptions } from "./shared/tables/mod.ts";

/** The options of this script (`shared/tables/`, where the launcher reads them). */
export const options = dashboardOptions;

const log = logger("dashboard");

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task dashboard [options]",
    summary: "Serves the live top-songs chart: BigQuery's history plus Kafka live, equal to " +
      "BigQuery.",
  }, options);
  await setupLogging({ level: config.logLevel });
  const stop = shutdownSignal((name) => log.info("Received {signal}: stopping", { signal: name }));

  // BigQuery's history + Kafka → decode → windowed counter → HTTP/SSE.
  const kafka = createKafka({ ...config, clientId: "livecharts-dashboard" });
  const warehouse = openWarehouse(config, { maximumBytesBilled: config.maxBytesBilled });
  const feed = createLiveFeed(kafka, {
    ...config,
    warehouse,
    allowedLatenessMs: config.allowedLateness,
    dedupHorizonMs: config.dedupHorizon,
    reanchorEveryMs: config.reanchorEvery,
    maxFutureMs: config.maxFutureSkew,
  });
  // Full-table queries: one run at a time, at most one per interval.
  const gate = createReconcileGate({
    run: () =>
      reconcile(feed.counter(), warehouse, Date.now(), {
        maxFutureMs: config.maxFutureSkew,
        onlyPartitions: config.onlyPartitions,
      }),
    minIntervalMs: config.reconcileMinInterval,
  });
  const server = serveDashboard({
    ...config,
    feed,
    reconcile: config.reconcileApi ? gate : undefined,
    stallTimeoutMs: config.streamStallTimeout,
    socketPath: config.httpSocket,
    headerTimeoutMs: config.headerTimeout,
    idleTimeoutMs: config.idleTimeout,
    streamCaps: { maxStreams: config.maxStreams, maxPerClient: config.maxStreamsPerClient },
    staticDir: new URL("./web/", import.meta.url),
  });
  if (server === undefined) {
    await stopLogging();
    return 1;
  }

  // A crash loop would scan BigQuery at every start: back off first.
  const started = await waitOutCrashLoop({
    ...config,
    initialMs: config.crashBackoff,
    signal: stop,
  });

  // BigQuery is optional for the live chart: the view is created when it answers.
  const viewReady = ensureTopSongsViewSoon(warehouse, config.view, stop);
  const progress = startDashboardProgress(feed, server);
  await Promise.all([
    feed.run(stop),
    reconcileWhenQuiet(kafka, {
      ...config,
      everyMs: config.reconcileEvery,
      counter: feed.counter,
      isLive: feed.isLive,
      feed: () => feed.stats,
      check: () => gate.check(0),
      signal: stop,
    }),
  ]);

  // Shutdown in flow order: input, then the page's streams and the server.
  progress.stop();
  await feed.stop();
  await server.close();
  await viewReady;
  await started.stopped();
  log.info("Stopped", { ...feed.counter().stats });
  await stopLogging();
  return 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    await logFatal(log, "Dashboard failed: {error}", { error: errorMessage(error) });
    Deno.exit(1);
  });
}
