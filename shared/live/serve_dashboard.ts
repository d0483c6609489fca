/**
 * The dashboard's output: serves the page, the JSON API, the SSE stream,
 * `/healthz` and `/metrics` on one address.
 *
 * `/healthz` answers 503 when the dashboard cannot count (its Kafka reader
 * is down) and 200 otherwise; its body says `status` (`ok`, `degraded` while
 * BigQuery cannot be reached, `down`), `state` (`starting`, `catching-up`,
 * `live`, `degraded`) and the `problems` in words.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { logger, metricsResponse } from "../ops/mod.ts";
import type { LiveFeed } from "./live_feed.ts";
import { dashboardMetrics } from "./metrics.ts";
import type { ReconcileGate } from "./reconcile_gate.ts";
import { createDashboardHandler } from "./server.ts";
import type { StreamCaps } from "./stream_gate.ts";

const log = logger("dashboard");

/** Options of {@linkcode serveDashboard}. */
export interface ServeDashboardOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The plays topic (shown by `/healthz`). */
  topic: string;
  feed: LiveFeed;
  /** The gate of `/api/reconcile`; undefined turns the endpoint off. */
  reconcile: ReconcileGate | undefined;
  /** A stream that takes nothing for this long is closed. */
  stallTimeoutMs: number;
  /** Open streams at most, in all and per client address. */
  streamCaps: StreamCaps;
  /** Directory of the static page. */
  staticDir: URL;
}

/** A serving dashboard. */
export interface DashboardServer {
  /** Number of open streams. */
  readonly streams: number;
  /** Ends every stream and stops serving. */
  close(): Promise<void>;
}

/** Memory use of the process, in megabytes. */
export interface MemoryMegabytes {
  rss: number;
  heap_total: number;
  heap_used: number;
  external: number;
}

/**
 * Memory use in megabytes, one decimal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryMegabytes } from "./serve_dashboard.ts";
 * assert.ok(memoryMegabytes().rss > 0);
 * ```
 */
export function memoryMegabytes(): MemoryMegabytes {
  const usage = Deno.memoryUsage();
  const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
  return {
    rss: mb(usage.rss),
    heap_total: mb(usage.heapTotal),
    heap_used: mb(usage.heapUsed),
    external: mb(usage.external),
  };
}

/**
 * Starts serving and prints the page's address. Returns undefined, after
 * logging why, when the address cannot be listened on.
 */
export function serveDashboard(options: ServeDashboardOptions): DashboardServer | undefined {
  const { feed } = options;
  const started = Date.now();
  const http = createDashboardHandler({
    counter: feed.counter,
    status: feed.status,
    lag: () => feed.lag,
    staticDir: options.staticDir,
    reconcile: options.reconcile,
    stallTimeoutMs: options.stallTimeoutMs,
    streamCaps: options.streamCaps,
    health: () => {
      const { state, health, problems } = feed.status();
      return {
        healthy: health !== "down",
        body: {
          status: health,
          state,
          problems,
          topic: options.topic,
          uptime_s: Math.round((Date.now() - started) / 1000),
          live_after_ms: feed.liveAfterMs ?? null,
          anchor: feed.anchor ?? null,
          kafka: feed.stats ?? null,
          counter: feed.counter().stats,
          streams: http.streams,
          streams_dropped: http.dropped,
          streams_resumed: http.resumed,
          streams_refused: http.refused,
          memory_mb: memoryMegabytes(),
        },
      };
    },
  });
  const metrics = dashboardMetrics({
    feed: () => feed.stats,
    counter: () => feed.counter().stats,
    status: feed.status,
    streams: () => http.streams,
    streamsDropped: () => http.dropped,
  });

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      {
        hostname: options.host,
        port: options.port,
        onListen: ({ hostname, port }) => {
          const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
          console.log(`Dashboard: http://${shown}:${port}/`);
        },
      },
      (request, info) =>
        new URL(request.url).pathname === "/metrics"
          ? metricsResponse(metrics)
          : http.handler(request, info.remoteAddr.hostname),
    );
  } catch (error) {
    const hint = error instanceof Deno.errors.AddrInUse
      ? " (another dashboard running? pick one with --port)"
      : error instanceof Deno.errors.NotCapable
      ? " (not granted: run with --allow-net for that address)"
      : "";
    log.fatal("Cannot listen on {host}:{port}: {error}{hint}", {
      host: options.host,
      port: options.port,
      error: errorMessage(error),
      hint,
    });
    return undefined;
  }
  return {
    get streams() {
      return http.streams;
    },
    async close() {
      http.close();
      await server.shutdown();
    },
  };
}
