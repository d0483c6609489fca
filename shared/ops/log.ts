/**
 * Logging setup (LogTape): structured lines on stderr, optionally also to a
 * file, with the level taken from `LOG_LEVEL`.
 *
 * @module
 */

import {
  configure,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import { errorMessage } from "../errors.ts";
import { redactSecrets } from "./redact.ts";

export { logFileOption, logLevel, logLevelOption } from "./options.ts";

/**
 * Renders a record as one line: time, level, category, message, fields, with
 * secrets redacted (see `redact.ts`).
 */
export function formatRecord(record: LogRecord): string {
  let message = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    message += i % 2 === 0 || typeof part === "string" ? String(part) : JSON.stringify(part);
  }
  const template = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const fields = Object.entries(record.properties)
    .filter(([key, value]) => value !== undefined && !template.includes(`{${key}}`))
    .map(([key, value]) => ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join("");
  const time = new Date(record.timestamp).toISOString();
  // Secrets (registered passwords, private keys) never reach a sink.
  return redactSecrets(
    `${time} ${record.level.toUpperCase().padEnd(7)} ${
      record.category.join(".")
    }: ${message}${fields}\n`,
  );
}

const encoder = new TextEncoder();
const clearLine = Deno.stderr.isTerminal() ? "\r\x1b[2K" : "";

/** Writes records to stderr synchronously (stdout stays free for data). */
function stderrSink(record: LogRecord): void {
  Deno.stderr.writeSync(encoder.encode(clearLine + formatRecord(record)));
}

/** Options of {@linkcode setupLogging}. */
export interface LoggingOptions {
  /** Lowest level written. */
  level: LogLevel;
  /** Also write every record to this file (appended). */
  file?: string | undefined;
  /** Write to stderr (default true). */
  console?: boolean;
  /** Categories (below `livecharts`) written to the file only, e.g. per-delivery records. */
  fileOnly?: string[][];
}

/**
 * Configures LogTape for a script. Call once at start; {@linkcode stopLogging}
 * flushes the file sink at exit.
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  configured = false;
  const sinks: Record<string, Sink> = {};
  const names: string[] = [];
  if (options.console !== false) {
    sinks.console = stderrSink;
    names.push("console");
  }
  if (options.file !== undefined) {
    try {
      Deno.openSync(options.file, { append: true, create: true }).close();
    } catch (error) {
      throw new Error(
        `Cannot write the log file ${JSON.stringify(options.file)}: ${errorMessage(error)}`,
      );
    }
    sinks.file = getFileSink(options.file, { formatter: formatRecord, lazy: true });
    names.push("file");
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["livecharts"], lowestLevel: options.level, sinks: names },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: names },
      ...(options.fileOnly ?? []).map((category) => ({
        category: ["livecharts", ...category],
        lowestLevel: options.level,
        sinks: options.file === undefined ? [] : ["file"],
        parentSinks: "override" as const,
      })),
    ],
  });
  configured = true;
}

/** Whether {@linkcode setupLogging} has configured the sinks (and they are not stopped). */
let configured = false;

/** Flushes and closes the sinks. */
export async function stopLogging(): Promise<void> {
  configured = false;
  await reset();
}

/**
 * Logs `message` (a template whose `{name}`s come from `properties`) as
 * fatal and flushes the sinks: what an entry script does as it fails. Before
 * {@linkcode setupLogging} has configured any sink, the line goes to stderr
 * as `error: …` instead, so a script that fails while it starts (before its
 * options are read) never exits without a word.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logFatal, logger } from "./log.ts";
 * const printed: unknown[] = [];
 * const print = console.error;
 * console.error = (...line: unknown[]) => void printed.push(...line);
 * try {
 *   await logFatal(logger("producer"), "Producer failed: {error}", { error: "no broker" });
 * } finally {
 *   console.error = print;
 * }
 * assert.deepEqual(printed, ["error: Producer failed: no broker"]);
 * ```
 */
export async function logFatal(
  log: Logger,
  message: string,
  properties: Record<string, unknown>,
): Promise<void> {
  if (!configured) {
    const text = message.replace(
      /\{(\w+)\}/g,
      (whole, name: string) => name in properties ? String(properties[name]) : whole,
    );
    console.error(`error: ${text}`);
    return;
  }
  log.fatal(message, properties);
  await stopLogging();
}

/** A logger under the `livecharts` category. */
export function logger(...category: string[]): Logger {
  return getLogger(["livecharts", ...category]);
}
