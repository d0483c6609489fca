/**
 * The dashboard's output: serves the page, the JSON API, the SSE stream,
 * `/healthz` and `/metrics` on one address; with `--public` the page and the
 * read APIs only, and `/healthz` details and `/metrics` on a second,
 * loopback address (`exposure.ts`).
 *
 * `/healthz` answers 503 when the dashboard cannot count (its Kafka reader
 * is down) and 200 otherwise; its body says `status` (`ok`, `degraded` while
 * BigQuery cannot be reached, `down`), `state` (`starting`, `catching-up`,
 * `live`, `degraded`) and the `problems` in words.
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import { logger, metricsResponse } from "../../ops/mod.ts";
import type { LiveFeed } from "../feed/live_feed.ts";
import {
  guardCostly,
  type Handler,
  isLoopbackHost,
  ownHostNames,
  publicHandler,
} from "./exposure.ts";
import { dashboardMetrics } from "../metrics.ts";
import type { ReconcileGate } from "../reconcile/reconcile_gate.ts";
import { createDashboardHandler } from "./server.ts";
import type { StreamCaps } from "./stream_gate.ts";
import { clientOf, type FrontDoor, openFrontDoor } from "./front_door.ts";

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
  /**
   * The Unix socket of the HTTP server, behind the front door that times
   * connections out (`front_door.ts`); unset: served directly, with no
   * timeouts.
   */
  socketPath?: string | undefined;
  /** A request head must be complete this long after its first byte (default 10 s). */
  headerTimeoutMs?: number | undefined;
  /** A connection with no byte either way for this long is closed (default 60 s). */
  idleTimeoutMs?: number | undefined;
  /** Open streams at most, in all and per client address. */
  streamCaps: StreamCaps;
  /** Directory of the static page. */
  staticDir: URL;
  /** Serve only the page and its read APIs, with generic errors (see `exposure.ts`). */
  public?: boolean | undefined;
  /** Address of the `/healthz` details and `/metrics` listener; unset: none. */
  adminHost?: string | undefined;
  adminPort?: number | undefined;
  /** Host names `/api/reconcile` answers to besides the loopback ones and `host`. */
  allowedHosts?: readonly string[] | undefined;
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
  let door: FrontDoor | undefined;
  let socket: string | undefined;
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
          connections_closed: door?.closed ?? null,
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

  // Each request's client address, for the per-client stream cap.
  const clients = new WeakMap<Request, string>();
  const served: Handler = (request) => http.handler(request, clients.get(request));
  // /api/reconcile costs a BigQuery scan: only for the dashboard's own names.
  const guarded = guardCostly(served, {
    paths: new Set(["/api/reconcile"]),
    hosts: ownHostNames(options.host, options.allowedHosts),
  });
  const admin: Handler = (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") return metricsResponse(metrics);
    return path === "/healthz"
      ? served(request)
      : new Response(JSON.stringify({ error: "Not found" }), { status: 404 });
  };
  const main: Handler = options.public
    ? publicHandler(guarded, { healthy: () => feed.status().health !== "down" })
    : (request) => new URL(request.url).pathname === "/metrics" ? admin(request) : guarded(request);

  const servers: Deno.HttpServer[] = [];
  const announce = (name: string, hostname: string, port: number) => {
    const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(`${name}: http://${shown}:${port}/`);
  };
  const cannotListen = (host: string, port: number, flag: string, error: unknown) => {
    const hint = error instanceof Deno.errors.AddrInUse
      ? ` (another dashboard running? pick one with ${flag})`
      : error instanceof Deno.errors.NotCapable
      ? " (not granted: run with --allow-net for that address)"
      : "";
    log.fatal("Cannot listen on {host}:{port}: {error}{hint}", {
      host,
      port,
      error: errorMessage(error),
      hint,
    });
  };
  const listen = (host: string, port: number, name: string, flag: string, handler: Handler) => {
    try {
      servers.push(Deno.serve({
        hostname: host,
        port,
        onListen: ({ hostname, port }) => announce(name, hostname, port),
      }, (request, info) => {
        clients.set(request, info.remoteAddr.hostname);
        return handler(request);
      }));
      return true;
    } catch (error) {
      cannotListen(host, port, flag, error);
      return false;
    }
  };
  /** The main address through the front door, the server on a Unix socket behind it. */
  const listenBehindDoor = (path: string, handler: Handler) => {
    try {
      door = openFrontDoor({
        hostname: options.host,
        port: options.port,
        upstream: path,
        headerTimeoutMs: options.headerTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
      });
    } catch (error) {
      cannotListen(options.host, options.port, "--port", error);
      return false;
    }
    const dir = path.slice(0, path.lastIndexOf("/"));
    try {
      if (dir !== "") Deno.mkdirSync(dir, { recursive: true });
    } catch {
      // there already, or not ours to make: listening says which
    }
    try {
      // Left by a dashboard on the same socket that did not stop cleanly.
      Deno.removeSync(path);
    } catch {
      // none
    }
    try {
      servers.push(Deno.serve({ path, onListen: () => {} }, (request) => {
        const client = clientOf(request);
        if (client !== undefined) clients.set(request, client);
        return handler(request);
      }));
      socket = path;
    } catch (error) {
      log.fatal("Cannot listen on the HTTP socket {socket}: {error}", {
        socket: path,
        error: errorMessage(error),
      });
      door.close().catch(() => {});
      return false;
    }
    announce("Dashboard", door.addr.hostname, door.addr.port);
    return true;
  };
  const shutdown = async () => {
    http.close();
    await door?.close();
    await Promise.all(servers.map((server) => server.shutdown()));
    if (socket !== undefined) await Deno.remove(socket).catch(() => {});
  };
  if (options.socketPath === undefined) {
    if (isLoopbackHost(options.host)) {
      log.info(
        "Serving local clients directly (--http-socket puts the connection timeouts in front)",
      );
    } else {
      log.warning(
        "Serving beyond loopback without the front door: slow and idle connections are never " +
          "closed (--http-socket sets one)",
      );
    }
    if (!listen(options.host, options.port, "Dashboard", "--port", main)) return undefined;
  } else if (!listenBehindDoor(options.socketPath, main)) {
    return undefined;
  }
  if (options.public) {
    log.warning(
      "Public mode: the page and its read APIs only, generic errors; there is no authentication",
    );
  }
  if (
    options.adminPort !== undefined &&
    !listen(
      options.adminHost ?? "127.0.0.1",
      options.adminPort,
      "Dashboard health and metrics",
      "--admin-port",
      admin,
    )
  ) {
    shutdown().catch(() => {});
    return undefined;
  }
  return {
    get streams() {
      return http.streams;
    },
    close: shutdown,
  };
}
