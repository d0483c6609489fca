/**
 * The HTTP side of observability: `GET /metrics` (Prometheus text format)
 * and `GET /healthz` (200 `{"status":"ok",...}`, or 503 with the reason),
 * 404 for anything else.
 *
 * @module
 */

import type { Health } from "./health.ts";
import { logger } from "./log.ts";
import type { Registry } from "./metrics.ts";
import { errorMessage } from "../errors.ts";
import { DEFAULT_METRICS_PORT } from "./options.ts";

export { DEFAULT_METRICS_PORT, metricsServerOptions } from "./options.ts";

/** A health verdict plus details for the `/healthz` body. */
export interface HealthReport extends Health {
  details?: Record<string, unknown>;
}

/** Options of {@linkcode createMetricsHandler}. */
export interface MetricsHandlerOptions {
  registry: Registry;
  /** Answers `/healthz`; without it `/healthz` is always ok. */
  health?: () => HealthReport;
}

const NO_STORE = { "cache-control": "no-store", "x-content-type-options": "nosniff" };

/**
 * A `/metrics` response for `registry` (handy for adding `/metrics` to
 * another server).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRegistry, Gauge } from "./metrics.ts";
 * import { metricsResponse } from "./metrics_server.ts";
 * const registry = createRegistry({ defaultMetrics: false });
 * new Gauge({ name: "up", help: "Running", registers: [registry] }).set(1);
 * const response = await metricsResponse(registry);
 * assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
 * assert.equal(await response.text(), "# HELP up Running\n# TYPE up gauge\nup 1\n");
 * ```
 */
export async function metricsResponse(registry: Registry): Promise<Response> {
  return new Response(await registry.metrics(), {
    headers: { ...NO_STORE, "content-type": registry.contentType },
  });
}

/**
 * The request handler: `/metrics`, `/healthz`, 404 otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRegistry } from "./metrics.ts";
 * import { createMetricsHandler } from "./metrics_server.ts";
 * const handler = createMetricsHandler({
 *   registry: createRegistry({ defaultMetrics: false }),
 *   health: () => ({ healthy: false, status: "stuck", reason: "No progress for 130 s" }),
 * });
 * const response = await handler(new Request("http://localhost/healthz"));
 * assert.equal(response.status, 503);
 * assert.deepEqual(await response.json(), { status: "stuck", reason: "No progress for 130 s" });
 * ```
 */
export function createMetricsHandler(
  options: MetricsHandlerOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== "/metrics" && pathname !== "/healthz") {
      return new Response("Not found: try /metrics or /healthz\n", {
        status: 404,
        headers: { ...NO_STORE, "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", {
        status: 405,
        headers: { ...NO_STORE, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (pathname === "/metrics") return await metricsResponse(options.registry);
    const health: HealthReport = options.health?.() ??
      { healthy: true, status: "ok", reason: "Running" };
    return new Response(
      JSON.stringify({ status: health.status, reason: health.reason, ...health.details }),
      {
        status: health.healthy ? 200 : 503,
        headers: { ...NO_STORE, "content-type": "application/json; charset=utf-8" },
      },
    );
  };
}

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions extends MetricsHandlerOptions {
  hostname: string;
  /** Port; undefined means {@linkcode DEFAULT_METRICS_PORT}, best effort. */
  port: number | undefined;
}

/** A running metrics server. */
export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** Stops accepting connections and waits for open ones. */
  shutdown(): Promise<void>;
}

const log = logger("metrics");

/**
 * Serves {@linkcode createMetricsHandler} on `hostname:port` and logs the
 * address. An explicitly chosen port that cannot be bound is an error; when
 * the default port is taken (another consumer on this machine) or not
 * granted, a warning is logged and `undefined` returned: the consumer
 * works on without `/metrics`.
 */
export function serveMetrics(options: ServeMetricsOptions): MetricsServer | undefined {
  const port = options.port ?? DEFAULT_METRICS_PORT;
  const shown = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname,
      port,
      onListen: ({ port: bound }) =>
        log.info("Serving metrics on http://{address}:{port}/metrics and /healthz", {
          address: shown,
          port: bound,
        }),
      onError: (error) => {
        log.error("Cannot answer a metrics request: {error}", {
          error: errorMessage(error),
        });
        return new Response("Internal error\n", { status: 500 });
      },
    }, createMetricsHandler(options));
  } catch (error) {
    const reason = errorMessage(error);
    const hint = error instanceof Deno.errors.AddrInUse
      ? "the port is taken"
      : error instanceof Deno.errors.NotCapable
      ? "not granted: run with --allow-net for that address"
      : reason;
    if (options.port === undefined) {
      log.warn(
        "Cannot serve metrics on {address}:{port} ({hint}); running without /metrics and /healthz (choose a port with --metrics-port, 0 for any)",
        { address: shown, port, hint },
      );
      return undefined;
    }
    throw new Error(`Cannot serve metrics on ${shown}:${port}: ${hint}`);
  }
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}
