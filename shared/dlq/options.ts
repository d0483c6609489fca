/**
 * The dead-letter tool's command-line options: list or replay, where to,
 * which kind, and how to print the report.
 *
 * @module
 */

import { boolean, integer, type Option, text } from "../cli/mod.ts";
import { topicName } from "../kafka/options.ts";
import { logLevel } from "../ops/options.ts";

/** An `error.kind` as `--kind` accepts it (it can name a consumer group). */
export const KIND = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Listing and replay options of `deno task dlq`. */
export const dlqToolOptions = {
  replay: {
    flag: "replay",
    help: "Re-publish the letters not replayed yet to the configured --topic",
    fallback: false,
    parse: boolean,
  },
  to: {
    flag: "to",
    arg: "TOPIC",
    help: "With --replay: publish to this topic instead of the configured --topic",
    fallback: undefined,
    parse: topicName,
  },
  kind: {
    flag: "kind",
    arg: "KIND",
    help: "With --replay: only letters of this error.kind (e.g. rejected-by-bigquery)",
    fallback: undefined,
    parse: text(KIND, "an error kind like invalid-json"),
  },
  dryRun: {
    flag: "dry-run",
    help: "With --replay: report what would be re-published; publish and record nothing",
    fallback: false,
    parse: boolean,
  },
  json: {
    flag: "json",
    help: "Print the report as JSON (for scripts)",
    fallback: false,
    parse: boolean,
  },
  limit: {
    flag: "limit",
    arg: "N",
    help: "Examples shown per group",
    fallback: 3,
    parse: integer(0, 1_000),
  },
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    arg: "LEVEL",
    help: "debug, info, warning or error",
    fallback: "warning" as const,
    parse: logLevel,
  },
} satisfies Record<string, Option<unknown>>;
