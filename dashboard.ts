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

import { errorMessage, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { bigqueryOptions, groupOptions, kafkaOptions, partitionsOption } from "./shared/cli/mod.ts";
import { isTransientBigQueryError, openWarehouse } from "./shared/bigquery/mod.ts";
import { createDashboardHandler } from "./shared/live/mod.ts";
import { dashboardMetrics } from "./shared/live/mod.ts";
import { metricsResponse } from "./shared/ops/mod.ts";
import { formatDuration, parseDuration } from "./shared/cli/mod.ts";
import { createKafka, ensureTopic, groupLag } from "./shared/kafka/mod.ts";
import { logger, logLevelOption, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import { integer, text } from "./shared/cli/mod.ts";
import { compact, rateMeter, startProgress } from "./shared/ops/mod.ts";
import { type PlayFeed, startPlayFeed } from "./shared/live/mod.ts";
import { reconcile } from "./shared/live/mod.ts";
import { retry, sleep } from "./shared/ops/mod.ts";
import { ensureTopSongsView, viewOptions } from "./shared/live/mod.ts";
import { createPlayCounter, LONGEST_WINDOW_MS } from "./shared/live/mod.ts";

const options = {
  host: {
    flag: "host",
    env: "DASHBOARD_HOST",
    arg: "HOST",
    help: "Address to serve on",
    fallback: "127.0.0.1",
    parse: text(/^[A-Za-z0-9.:-]{1,253}$/, "a host name or IP address"),
  },
  port: {
    flag: "port",
    env: "DASHBOARD_PORT",
    arg: "PORT",
    help: "Port to serve on; 0 picks a free one",
    fallback: 8080,
    parse: integer(0, 65535),
  },
  ...kafkaOptions,
  group: {
    ...groupOptions.group,
    help: "Group of the BigQuery consumer: reconciliation waits until it has no lag",
  },
  ...bigqueryOptions,
  ...viewOptions,
  allowedLateness: {
    flag: "allowed-lateness",
    env: "DASHBOARD_ALLOWED_LATENESS",
    arg: "DURATION",
    help: "Plays read later than this after their event time count in 'all time' only",
    fallback: LONGEST_WINDOW_MS,
    fallbackHelp: formatDuration(LONGEST_WINDOW_MS),
    parse: parseDuration,
  },
  reconcileEvery: {
    flag: "reconcile-every",
    env: "DASHBOARD_RECONCILE_EVERY",
    arg: "DURATION",
    help: "Compare with BigQuery this often when the pipeline is quiet; 0 turns it off",
    fallback: 60_000,
    fallbackHelp: "60s",
    parse: parseDuration,
  },
  partitions: partitionsOption,
  logLevel: logLevelOption,
};

function memoryMegabytes(): Record<string, number> {
  const usage = Deno.memoryUsage();
  const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
  return {
    rss: mb(usage.rss),
    heap_total: mb(usage.heapTotal),
    heap_used: mb(usage.heapUsed),
    external: mb(usage.external),
  };
}

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task dashboard [options]",
    summary: "Serves the live top-songs chart, counted from Kafka, equal to BigQuery.",
  }, options);
  await setupLogging({ level: config.logLevel });
  const log = logger("dashboard");
  const stop = shutdownSignal((name) => log.info("Received {signal}: stopping", { signal: name }));
  const started = Date.now();

  const counter = createPlayCounter({ allowedLatenessMs: config.allowedLateness });
  const warehouse = openWarehouse(config);
  let feed: PlayFeed | undefined;
  const live = () => feed?.stats.caughtUp ?? false;
  const check = () => reconcile(counter, warehouse, Date.now());

  const http = createDashboardHandler({
    counter,
    staticDir: new URL("./web/", import.meta.url),
    isLive: live,
    reconcile: check,
    health: () => ({
      status: "ok",
      state: live() ? "live" : "catching-up",
      topic: config.topic,
      uptime_s: Math.round((Date.now() - started) / 1000),
      kafka: feed?.stats ?? null,
      counter: counter.stats,
      streams: http.streams,
      memory_mb: memoryMegabytes(),
    }),
  });

  const metrics = dashboardMetrics({
    feed: () => feed?.stats,
    counter: () => counter.stats,
    streams: () => http.streams,
  });

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      {
        hostname: config.host,
        port: config.port,
        onListen: ({ hostname, port }) => {
          const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
          console.log(`Dashboard: http://${shown}:${port}/`);
        },
      },
      (request) =>
        new URL(request.url).pathname === "/metrics"
          ? metricsResponse(metrics)
          : http.handler(request),
    );
  } catch (error) {
    const hint = error instanceof Deno.errors.AddrInUse
      ? " (another dashboard running? pick one with --port)"
      : error instanceof Deno.errors.NotCapable
      ? " (not granted: run with --allow-net for that address)"
      : "";
    log.fatal("Cannot listen on {host}:{port}: {error}{hint}", {
      host: config.host,
      port: config.port,
      error: errorMessage(error),
      hint,
    });
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

  const kafka = createKafka({ ...config, clientId: "livecharts-dashboard" });
  const admin = kafka.admin();
  let invalidLogged = 0;
  async function startFeed(): Promise<PlayFeed> {
    const replayStarted = Date.now();
    await ensureTopic(kafka, config.topic, config.partitions);
    return await startPlayFeed(kafka, {
      topic: config.topic,
      counter,
      onCaughtUp: (stats) =>
        log.info("Caught up: {read} messages replayed in {seconds} s ({invalid} invalid)", {
          read: stats.read,
          invalid: stats.invalid,
          seconds: ((Date.now() - replayStarted) / 1000).toFixed(1),
          ...counter.stats,
        }),
      onInvalid: (error, partition, offset) => {
        if (invalidLogged++ < 5) {
          log.warn("Skipping message {partition}@{offset}: {error}", {
            partition,
            offset,
            error: error.message,
          });
        }
      },
      onCrash: (error) => {
        log.error("Kafka reader stopped: {error}; restarting", { error: errorMessage(error) });
        crashed = true;
      },
    });
  }
  let crashed = false;

  log.info("Reading {topic} from the earliest offset", { topic: config.topic });
  const meter = rateMeter();
  const progress = startProgress({
    render: () => {
      const read = feed?.stats.read ?? 0;
      return `dashboard: read ${compact(read)} | plays ${compact(counter.stats.counted)}` +
        ` | ${live() ? "live" : "catching up"} | ${http.streams} viewers | ${
          compact(meter(read))
        }/s`;
    },
  });
  let nextCheck = Date.now() + Math.min(config.reconcileEvery, 10_000);
  let lastEqual = "";
  while (!stop.aborted) {
    if (feed === undefined || crashed) {
      const old = feed;
      feed = undefined;
      crashed = false;
      await old?.stop().catch(() => {});
      try {
        feed = await startFeed();
        await admin.connect();
      } catch (error) {
        log.warn("Kafka not ready ({error}); retrying in 3 s", { error: errorMessage(error) });
        await sleep(3_000, stop);
        continue;
      }
    }
    await sleep(500, stop);
    if (config.reconcileEvery === 0 || Date.now() < nextCheck || !live()) continue;
    const quietFor = Date.now() - (feed.stats.lastReadAt ?? 0);
    if (quietFor < 3_000) continue;
    nextCheck = Date.now() + config.reconcileEvery;
    try {
      const lag = (await groupLag(admin, config.group, config.topic))
        .reduce((sum, partition) => sum + partition.lag, 0n);
      if (lag > 0n) {
        log.debug("Not reconciling: consumer {group} is {lag} behind", {
          group: config.group,
          lag,
        });
        continue;
      }
      const result = await check();
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
          late: counter.stats.late,
          differences: result.windows.flatMap((w) =>
            w.differences.slice(0, 3).map((d) => ({ window: w.window, ...d }))
          ),
        });
      }
    } catch (error) {
      log.warn("Cannot reconcile with BigQuery: {error}", { error: errorMessage(error) });
    }
  }

  // Shutdown in flow order: input, then the page's streams and the server.
  progress.stop();
  await feed?.stop().catch(() => {});
  await admin.disconnect().catch(() => {});
  http.close();
  await server.shutdown();
  await viewReady;
  log.info("Stopped", { ...counter.stats });
  await stopLogging();
  return 0;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    logger("dashboard").fatal("Dashboard failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
