/**
 * `deno task dashboard`: the live chart. Reads the plays topic from Kafka
 * (its own reader, from the earliest offset, so a restart rebuilds the same
 * state), counts plays in sliding event-time windows, and serves the page,
 * the JSON API and a Server-Sent Events stream. Checks itself against
 * BigQuery when the pipeline is quiet.
 *
 * Flow: Kafka topic → decode → windowed counter → HTTP/SSE.
 *
 * @module
 */

import { bigqueryOptions, isTransientBigQueryError, openWarehouse } from "./shared/bigquery/mod.ts";
import { errorMessage, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { createKafka, groupOptions, kafkaOptions, partitionsOption } from "./shared/kafka/mod.ts";
import {
  createLiveFeed,
  createPlayCounter,
  dashboardOptions,
  ensureTopSongsView,
  reconcile,
  reconcileWhenQuiet,
  serveDashboard,
  viewOptions,
} from "./shared/live/mod.ts";
import {
  compact,
  logger,
  logLevelOption,
  rateMeter,
  retry,
  setupLogging,
  startProgress,
  stopLogging,
} from "./shared/ops/mod.ts";

const { host, port, ...counting } = dashboardOptions;
/** The options of this script (the launcher derives its grants from them). */
export const options = {
  host,
  port,
  ...kafkaOptions,
  group: {
    ...groupOptions.group,
    help: "Group of the BigQuery consumer: reconciliation waits until it has no lag",
  },
  ...bigqueryOptions,
  ...viewOptions,
  ...counting,
  partitions: partitionsOption,
  logLevel: logLevelOption,
};

const log = logger("dashboard");

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task dashboard [options]",
    summary: "Serves the live top-songs chart, counted from Kafka, equal to BigQuery.",
  }, options);
  await setupLogging({ level: config.logLevel });
  const stop = shutdownSignal((name) => log.info("Received {signal}: stopping", { signal: name }));

  // Kafka → decode → windowed counter → HTTP/SSE; BigQuery checks the counts.
  const kafka = createKafka({ ...config, clientId: "livecharts-dashboard" });
  const counter = createPlayCounter({ allowedLatenessMs: config.allowedLateness });
  const feed = createLiveFeed(kafka, { ...config, counter });
  const warehouse = openWarehouse(config);
  const check = () => reconcile(counter, warehouse, Date.now());
  const server = serveDashboard({
    ...config,
    counter,
    feed,
    reconcile: check,
    staticDir: new URL("./web/", import.meta.url),
  });
  if (server === undefined) {
    await stopLogging();
    return 1;
  }

  // BigQuery is optional for the live chart: the view is created when it answers.
  const viewReady = retry(() => ensureTopSongsView(warehouse, config.view), {
    isTransient: isTransientBigQueryError,
    signal: stop,
    maxMs: 30_000,
    onRetry: (error, attempt, delayMs) =>
      log.warn("BigQuery not ready ({error}); retrying in {delayMs} ms", {
        error: errorMessage(error),
        attempt,
        delayMs,
      }),
  }).then(
    () => log.info("View {view} is ready", { view: `${config.dataset}.${config.view}` }),
    (error) => {
      if (stop.aborted) return; // stopped while BigQuery was still away
      log.error("Cannot create view {view}: {error}", {
        view: config.view,
        error: errorMessage(error),
      });
    },
  );

  const meter = rateMeter();
  const progress = startProgress({
    render: () => {
      const read = feed.stats?.read ?? 0;
      return `dashboard: read ${compact(read)} | plays ${compact(counter.stats.counted)}` +
        ` | ${feed.isLive() ? "live" : "catching up"} | ${server.streams} viewers` +
        ` | ${compact(meter(read))}/s`;
    },
  });
  await Promise.all([
    feed.run(stop),
    reconcileWhenQuiet(kafka, {
      ...config,
      everyMs: config.reconcileEvery,
      counter,
      feed: () => feed.stats,
      check,
      signal: stop,
    }),
  ]);

  // Shutdown in flow order: input, then the page's streams and the server.
  progress.stop();
  await feed.stop();
  await server.close();
  await viewReady;
  log.info("Stopped", { ...counter.stats });
  await stopLogging();
  return 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    log.fatal("Dashboard failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
