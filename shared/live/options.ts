/**
 * The dashboard's command-line options: where to serve, how late a play may
 * arrive and still count in its window, how long ids are kept for
 * deduplication, how often to re-anchor to BigQuery, how often to check the
 * counts against it and whether `/api/reconcile` is served, when a slow or
 * idle connection is closed and when a stalled viewer is cut off; and the
 * name of the `top_songs` view.
 *
 * @module
 */

import {
  boolean,
  formatDuration,
  integer,
  type Option,
  parseDuration,
  type RawValues,
  text,
} from "../cli/mod.ts";
import { BIGQUERY_NAME } from "../bigquery/options.ts";
import { DEFAULT_STREAM_CAPS } from "./http/stream_gate.ts";
import { isLoopbackHost } from "./http/exposure.ts";
import { DEFAULT_DEDUP_HORIZON_MS, LONGEST_WINDOW_MS } from "./counting/mod.ts";

/** Default of `--stall-timeout`: when a viewer that reads nothing is cut off. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** Whether real BigQuery is configured (credentials given), where every full scan is billed. */
function realBigQuery(raw: RawValues): boolean {
  return raw.credentials !== undefined && raw.credentials !== "";
}

function positiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0) throw new Error(`must be a duration above 0, got ${JSON.stringify(raw)}`);
  return ms;
}

/**
 * Parses `--only-partitions`: partition numbers separated by commas, sorted
 * and without repeats; empty means all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionList } from "./options.ts";
 * assert.deepEqual(partitionList("2,0, 2"), [0, 2]);
 * assert.equal(partitionList(""), undefined);
 * assert.throws(() => partitionList("0,x"), /must be partition numbers separated by commas, got "x"/);
 * ```
 */
export function partitionList(raw: string): number[] | undefined {
  if (raw.trim() === "") return undefined;
  const partitions = new Set<number>();
  for (const part of raw.split(",")) {
    const text = part.trim();
    if (!/^\d{1,6}$/.test(text)) {
      throw new Error(
        `must be partition numbers separated by commas, got ${JSON.stringify(text)}`,
      );
    }
    partitions.add(Number(text));
  }
  return [...partitions].sort((a, b) => a - b);
}

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
  onlyPartitions: {
    flag: "only-partitions",
    env: "DASHBOARD_ONLY_PARTITIONS",
    arg: "LIST",
    help: "Count only these partitions of the topic, e.g. 0,1: one shard of several " +
      "dashboards (with plays keyed by artist, produce --key-by artist, each artist is whole " +
      "in one shard)",
    fallback: undefined as number[] | undefined,
    fallbackHelp: "all",
    parse: partitionList,
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
  dedupHorizon: {
    flag: "dedup-horizon",
    env: "DASHBOARD_DEDUP_HORIZON",
    arg: "DURATION",
    help: "Ids of plays read from Kafka are kept this long (at least) to count a re-sent play once",
    fallback: DEFAULT_DEDUP_HORIZON_MS,
    fallbackHelp: formatDuration(DEFAULT_DEDUP_HORIZON_MS),
    parse: positiveDuration,
  },
  reanchorEvery: {
    flag: "reanchor-every",
    env: "DASHBOARD_REANCHOR_EVERY",
    arg: "DURATION",
    help: "Rebuild the counts from BigQuery below the newest committed offsets this often; " +
      "0 only at start",
    fallback: 3_600_000,
    fallbackHelp: "1h",
    parse: parseDuration,
  },
  reconcileEvery: {
    flag: "reconcile-every",
    env: "DASHBOARD_RECONCILE_EVERY",
    arg: "DURATION",
    help: "Compare with BigQuery this often when the pipeline is quiet (full-table queries); " +
      "0 turns it off",
    fallback: (raw: RawValues): number => realBigQuery(raw) ? 0 : 60_000,
    fallbackHelp: "60s with the emulator, 0 with real BigQuery",
    parse: parseDuration,
  },
  reconcileApi: {
    flag: "reconcile-api",
    env: "DASHBOARD_RECONCILE_API",
    arg: "BOOL",
    help: "Serve /api/reconcile (full-table queries: cached, at most one per " +
      "--reconcile-min-interval); false answers 403",
    fallback: (raw: RawValues): boolean => !realBigQuery(raw),
    fallbackHelp: "true with the emulator, false with real BigQuery",
    parse: boolean,
  },
  reconcileMinInterval: {
    flag: "reconcile-min-interval",
    env: "DASHBOARD_RECONCILE_MIN_INTERVAL",
    arg: "DURATION",
    help: "Shortest time between two reconciliations asked through /api/reconcile",
    fallback: 60_000,
    fallbackHelp: "60s",
    parse: positiveDuration,
  },
  stateDir: {
    flag: "state-dir",
    env: "DASHBOARD_STATE_DIR",
    arg: "DIR",
    help: "Where the dashboard notes its starts, to back off when it crash-loops; empty: nowhere",
    fallback: ".state" as string | undefined,
    parse: (raw: string): string | undefined =>
      raw === "" ? undefined : text(/^[^,\n]{1,4096}$/, "a directory path without commas")(raw),
    grant: "write",
  },
  crashBackoff: {
    flag: "crash-backoff",
    env: "DASHBOARD_CRASH_BACKOFF",
    arg: "DURATION",
    help: "After the second run in a row that ended without a clean stop within 10 minutes of " +
      "its start, wait this long before asking BigQuery, doubled at each further one (at most " +
      "5m); 0 never waits",
    fallback: 5_000,
    fallbackHelp: "5s",
    parse: parseDuration,
  },
  httpSocket: {
    flag: "http-socket",
    env: "DASHBOARD_HTTP_SOCKET",
    arg: "PATH",
    help: "Unix socket of the HTTP server behind the dashboard's port, which times slow and " +
      "idle connections out; empty: served on the port directly, without those timeouts",
    fallback: (raw: RawValues): string | undefined => {
      const dir = raw.stateDir ?? ".state";
      const port = raw.port ?? "8080";
      const local = isLoopbackHost(raw.host ?? "127.0.0.1");
      return local || dir === "" || port === "0" ? undefined : `${dir}/http-${port}.sock`;
    },
    fallbackHelp: "<state-dir>/http-<port>.sock when serving beyond loopback; none on loopback " +
      "(local clients only), with --port 0 or without a state directory",
    parse: (raw: string): string | undefined =>
      raw === "" ? undefined : text(/^[^,\n]{1,100}$/, "a path of at most 100 characters")(raw),
    grant: "socket",
  },
  headerTimeout: {
    flag: "header-timeout",
    env: "DASHBOARD_HEADER_TIMEOUT",
    arg: "DURATION",
    help: "Close a connection whose request head is not complete this long after its first byte",
    fallback: 10_000,
    fallbackHelp: "10s",
    parse: positiveDuration,
  },
  idleTimeout: {
    flag: "idle-timeout",
    env: "DASHBOARD_IDLE_TIMEOUT",
    arg: "DURATION",
    help: "Close a connection with no byte either way for this long (at least 20s: live " +
      "streams send a heartbeat every 15 s)",
    fallback: 60_000,
    fallbackHelp: "60s",
    parse: (raw: string): number => {
      const ms = parseDuration(raw);
      if (ms < 20_000) {
        throw new Error(
          `must be at least 20s (live streams send a heartbeat every 15 s), got ${
            JSON.stringify(raw)
          }`,
        );
      }
      return ms;
    },
  },
  streamStallTimeout: {
    flag: "stream-stall-timeout",
    env: "DASHBOARD_STREAM_STALL_TIMEOUT",
    arg: "DURATION",
    help: "Close a live stream whose viewer has taken nothing for this long",
    fallback: DEFAULT_STALL_TIMEOUT_MS,
    fallbackHelp: formatDuration(DEFAULT_STALL_TIMEOUT_MS),
    parse: positiveDuration,
  },
  maxStreams: {
    flag: "max-streams",
    env: "DASHBOARD_MAX_STREAMS",
    arg: "N",
    help: "Live streams served at once, in all; more get 503 with Retry-After",
    fallback: DEFAULT_STREAM_CAPS.maxStreams,
    parse: integer(1, 1_000_000),
  },
  maxStreamsPerClient: {
    flag: "max-streams-per-client",
    env: "DASHBOARD_MAX_STREAMS_PER_CLIENT",
    arg: "N",
    help: "Live streams served at once to one client address; more get 503 with Retry-After",
    fallback: DEFAULT_STREAM_CAPS.maxPerClient,
    parse: integer(1, 1_000_000),
  },
} satisfies Record<string, Option<unknown>>;

/** The `--view` option: name of the view in the plays table's dataset. */
export const viewOptions = {
  view: {
    flag: "view",
    env: "BIGQUERY_VIEW",
    arg: "NAME",
    help: "BigQuery view of deduplicated top songs (created or replaced at start)",
    fallback: "top_songs",
    parse: text(BIGQUERY_NAME, "a view name (letters, digits, _)"),
  },
} satisfies Record<string, Option<string>>;
