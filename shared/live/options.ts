/**
 * The dashboard's command-line options: where to serve, how late a play may
 * arrive and still count in its window, and how often to check the counts
 * against BigQuery.
 *
 * @module
 */

import { formatDuration, integer, type Option, parseDuration, text } from "../cli/mod.ts";
import { LONGEST_WINDOW_MS } from "./windows.ts";

/** Serving address and the live counts' settings. */
export const dashboardOptions = {
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
} satisfies Record<string, Option<unknown>>;
