/**
 * The dashboard's output: serves the page, the JSON API, the SSE stream,
 * `/healthz` and `/metrics` on one address.
 *
 * @module
 */

import { errorMessage } from "../cli/mod.ts";
import { logger, metricsResponse } from "../ops/mod.ts";
import type { LiveFeed } from "./live_feed.ts";
import { dashboardMetrics } from "./metrics.ts";
import type { Reconciliation } from "./reconcile.ts";
import { createDashboardHandler } from "./server.ts";
import type { PlayCounter } from "./windows.ts";

const log = logger("dashboard");

/** Options of {@linkcode serveDashboard}. */
export interface ServeDashboardOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The plays topic (shown by `/healthz`). */
  topic: string;
  counter: PlayCounter;
  feed: LiveFeed;
  /** Runs a reconciliation against BigQuery (`/api/reconcile`). */
  reconcile: () => Promise<Reconciliation>;
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
  const { counter, feed } = options;
  const started = Date.now();
  const http = createDashboardHandler({
    counter,
    staticDir: options.staticDir,
    isLive: feed.isLive,
    reconcile: options.reconcile,
    health: () => ({
      status: "ok",
      state: feed.isLive() ? "live" : "catching-up",
      topic: options.topic,
      uptime_s: Math.round((Date.now() - started) / 1000),
      kafka: feed.stats ?? null,
      counter: counter.stats,
      streams: http.streams,
      memory_mb: memoryMegabytes(),
    }),
  });
  const metrics = dashboardMetrics({
    feed: () => feed.stats,
    counter: () => counter.stats,
    streams: () => http.streams,
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
