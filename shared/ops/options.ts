/**
 * The operators' options every script shares (log level and file, the
 * metrics listener, stuck detection), declared without the libraries that
 * act on them: the launcher reads them without loading LogTape or
 * prom-client.
 *
 * @module
 */

import { integer, type Option, optional, text } from "../cli/options.ts";

/** A log level, as LogTape names them. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

const LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];

/** Parses `LOG_LEVEL` (`debug`, `info`, `warning`/`warn`, `error`). */
export function logLevel(raw: string): LogLevel {
  const value = raw.trim().toLowerCase();
  const level = LEVELS.find((candidate) => candidate === (value === "warn" ? "warning" : value));
  if (level === undefined) {
    throw new Error(`must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return level;
}

/** The `--log-level` / `LOG_LEVEL` option every script shares. */
export const logLevelOption = {
  flag: "log-level",
  env: "LOG_LEVEL",
  arg: "LEVEL",
  help: "debug, info, warning or error",
  fallback: "info" as LogLevel,
  parse: logLevel,
};

/**
 * The `--log-file FILE` option of a script: where logs are also appended
 * (the launcher grants writing it), `fallback` when not given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logFileOption } from "./options.ts";
 * const option = logFileOption("Delivery log", "producer.log");
 * assert.equal(option.flag, "log-file");
 * assert.equal(option.fallback, "producer.log");
 * assert.equal(option.parse(""), undefined);
 * ```
 */
export function logFileOption(help: string, fallback?: string): Option<string | undefined> {
  return { flag: "log-file", arg: "FILE", help, fallback, parse: optional, grant: "write" };
}

/** `--stuck-after` / `STUCK_AFTER_SECONDS`. */
export const healthOptions = {
  stuckAfter: {
    flag: "stuck-after",
    env: "STUCK_AFTER_SECONDS",
    arg: "SECONDS",
    help: "/healthz turns unhealthy after this long without progress while behind",
    fallback: 120,
    parse: integer(1, 86_400),
  },
};

/** Port used when `--metrics-port` / `METRICS_PORT` is not given. */
export const DEFAULT_METRICS_PORT = 9464;

/** `--metrics-host` and `--metrics-port`. */
export const metricsServerOptions = {
  metricsHost: {
    flag: "metrics-host",
    env: "METRICS_HOST",
    arg: "HOST",
    help: "Address of /metrics and /healthz",
    fallback: "127.0.0.1",
    parse: text(/^[A-Za-z0-9.:-]{1,253}$/, "a host name or IP address"),
  },
  metricsPort: {
    flag: "metrics-port",
    env: "METRICS_PORT",
    arg: "PORT",
    help:
      "Port of /metrics and /healthz; 0 picks a free one (if the default is taken: a warning, no metrics)",
    fallback: undefined,
    fallbackHelp: String(DEFAULT_METRICS_PORT),
    parse: integer(0, 65535),
  },
};
