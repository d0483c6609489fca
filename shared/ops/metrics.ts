/**
 * The metrics registry: prom-client's, with its default process and runtime
 * metrics (`process_*`, `nodejs_*`) next to ours. `registry.metrics()`
 * renders the Prometheus text format 0.0.4; serve it with
 * {@linkcode CONTENT_TYPE} (see `metrics_server.ts`).
 *
 * Define metrics with prom-client's classes, re-exported here: `new Counter({
 * name, help, labelNames, registers: [registry] })`. A number kept elsewhere
 * (e.g. a monotonic stats object) is read at scrape time in `collect()`.
 *
 * @module
 */

import { collectDefaultMetrics, Gauge, prometheusContentType, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** `Content-Type` of the rendered text. */
export const CONTENT_TYPE = prometheusContentType;

/**
 * The default metrics prom-client reads from `/proc/self` on Linux. Deno lets
 * only `--allow-all` read there, which the tasks never grant: without it
 * these would read 0. (`process_max_fds` is registered only when readable.)
 */
export const PROCFS_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
] as const;

/** Options of {@linkcode createRegistry}. */
export interface RegistryOptions {
  /** Adds prom-client's default process and runtime metrics (default true). */
  defaultMetrics?: boolean;
}

/** Whether `/proc/self` is granted and readable (no permission prompt is possible). */
function procfsReadable(): boolean {
  if (Deno.permissions.querySync({ name: "read", path: "/proc/self/status" }).state !== "granted") {
    return false;
  }
  try {
    Deno.readTextFileSync("/proc/self/status");
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a registry, by default with prom-client's default metrics. Where
 * `/proc/self` cannot be read (see {@linkcode PROCFS_METRICS}), the series
 * that need it are dropped and `process_resident_memory_bytes` comes from
 * `Deno.memoryUsage()` instead.
 *
 * prom-client reads `/proc/self/limits` once while registering: run the
 * script with `--no-prompt` (as the tasks do) so that Deno refuses it
 * instead of asking in a terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Counter, createRegistry } from "./metrics.ts";
 * const registry = createRegistry({ defaultMetrics: false });
 * const letters = new Counter({
 *   name: "dead_letters_total",
 *   help: "Messages sent to the DLQ",
 *   labelNames: ["reason"],
 *   registers: [registry],
 * });
 * letters.inc({ reason: "invalid-json" });
 * assert.equal(
 *   await registry.metrics(),
 *   [
 *     "# HELP dead_letters_total Messages sent to the DLQ",
 *     "# TYPE dead_letters_total counter",
 *     'dead_letters_total{reason="invalid-json"} 1',
 *     "",
 *   ].join("\n"),
 * );
 * assert.match(await createRegistry().metrics(), /^process_resident_memory_bytes [1-9]\d*$/m);
 * ```
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (!(options.defaultMetrics ?? true)) return registry;
  collectDefaultMetrics({ register: registry });
  if (Deno.build.os === "linux" && !procfsReadable()) {
    for (const name of PROCFS_METRICS) registry.removeSingleMetric(name);
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers: [registry],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }
  return registry;
}
