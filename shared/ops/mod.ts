/**
 * What operators use on every script: structured logging with secret
 * redaction, the Prometheus registry and the `/metrics` + `/healthz` server
 * with its health rules, the progress line, and retry with backoff.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compact } from "./mod.ts";
 * assert.equal(compact(1_234_567), "1.23M");
 * ```
 *
 * @module
 */

export { checkHealth, type Health, type HealthInput, healthOptions } from "./health.ts";
export {
  logFatal,
  logFileOption,
  logger,
  type LoggingOptions,
  logLevel,
  logLevelOption,
  setupLogging,
  stopLogging,
} from "./log.ts";
export {
  Counter,
  createRegistry,
  Gauge,
  Histogram,
  Registry,
  type RegistryOptions,
} from "./metrics.ts";
export {
  type HealthReport,
  metricsResponse,
  type MetricsServer,
  metricsServerOptions,
  serveMetrics,
  type ServeMetricsOptions,
} from "./metrics_server.ts";
export {
  compact,
  type Progress,
  type ProgressOptions,
  rateMeter,
  startProgress,
} from "./progress.ts";
export { addSecret } from "./redact.ts";
export { backoffDelay, type BackoffOptions, retry, type RetryOptions, sleep } from "./retry.ts";
