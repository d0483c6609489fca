/**
 * What the consumer's parsed options make of the sink: the destination's
 * write API, the source's fetch sizes, the stream's flush limits and
 * concurrency, and the idle exit. The one place that turns the option values
 * into the stages' settings, so the entry script only wires them.
 *
 * @module
 */

import type { DestinationOptions, WriteApi } from "../bigquery/mod.ts";
import type { SchemaEvolution } from "../schema.ts";
import type { SourceOptions } from "../kafka/mod.ts";
import type { RunOptions, SinkStreamOptions } from "./stream.ts";

/** The options {@linkcode destinationSettings} reads. */
export interface DestinationConfig {
  writeApi: WriteApi;
  schemaEvolution?: SchemaEvolution;
  emulatorHost: string | undefined;
  storageEmulatorHost: string | undefined;
}

/**
 * How to open the destination: the write API, and the local Storage API only
 * with a local BigQuery.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { destinationSettings } from "./settings.ts";
 * const local = { writeApi: "storage-write", storageEmulatorHost: "127.0.0.1:9060" } as const;
 * assert.deepEqual(destinationSettings({ ...local, emulatorHost: undefined }), {
 *   api: "storage-write",
 *   storageEmulator: undefined,
 * });
 * assert.equal(
 *   destinationSettings({ ...local, emulatorHost: "http://127.0.0.1:9050" }).storageEmulator,
 *   "127.0.0.1:9060",
 * );
 * ```
 */
export function destinationSettings(config: DestinationConfig): DestinationOptions {
  return {
    api: config.writeApi,
    storageEmulator: config.emulatorHost === undefined ? undefined : config.storageEmulatorHost,
    ...(config.schemaEvolution === undefined ? {} : { schemaEvolution: config.schemaEvolution }),
  };
}

/**
 * The consumer group's source: what a partition's writer holds stays in
 * memory until it is stored, so fetches stay small (256 KiB, ~1,250 plays
 * a partition: with 512 KiB the consumer peaked 25-30 MB higher for no more
 * rows a second, bench/README.md), and a fetch waits at most a second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sourceSettings } from "./settings.ts";
 * assert.equal(sourceSettings({ topic: "plays", group: "g", maxWaitMs: 5_000 }).maxWaitMs, 1_000);
 * ```
 */
export function sourceSettings(
  config: { topic: string; group: string; maxWaitMs: number; sessionTimeoutMs?: number },
): SourceOptions {
  return {
    topic: config.topic,
    group: config.group,
    maxBytesPerPartition: 256 * 1024,
    maxBytes: 768 * 1024,
    maxWaitMs: Math.max(100, Math.min(config.maxWaitMs, 1_000)),
    partitionsAtOnce: 8,
    ...(config.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: config.sessionTimeoutMs }),
  };
}

/** The options {@linkcode streamSettings} reads. */
export interface StreamConfig {
  createTable: boolean;
  dlqTopic: string;
  maxRows: number;
  maxBytes: number;
  maxWaitMs: number;
  concurrency: number;
  crashAfterAppends: number | undefined;
  crashAfterColumns?: boolean;
  /** `--schema-check`: how often the table's columns are read again, in seconds. */
  schemaCheck?: number;
}

/** What {@linkcode streamSettings} sets of the stream's options. */
export type StreamSettings = Pick<
  SinkStreamOptions,
  | "createTable"
  | "dlqTopic"
  | "maxRows"
  | "maxBytes"
  | "maxWaitMs"
  | "concurrency"
  | "onAcknowledged"
  | "onColumnsAdded"
  | "schemaCheckMs"
>;

/**
 * The stream's flush limits, concurrency, dead-letter topic and table
 * creation; with `--test-crash-after-appends N` (tests only, inert
 * otherwise), a failpoint that exits the process after the Nth acknowledged
 * append, before its commit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamSettings } from "./settings.ts";
 * const settings = streamSettings({
 *   createTable: true,
 *   dlqTopic: "plays.dlq",
 *   maxRows: 2_000,
 *   maxBytes: 5_000_000,
 *   maxWaitMs: 1_000,
 *   concurrency: 2,
 *   crashAfterAppends: undefined,
 * });
 * assert.equal(settings.maxRows, 2_000);
 * assert.equal("onAcknowledged" in settings, false);
 * ```
 */
export function streamSettings(config: StreamConfig): StreamSettings {
  const { createTable, dlqTopic, maxRows, maxBytes, maxWaitMs, concurrency } = config;
  const settings = {
    createTable,
    dlqTopic,
    maxRows,
    maxBytes,
    maxWaitMs,
    concurrency,
    ...(config.schemaCheck === undefined ? {} : { schemaCheckMs: config.schemaCheck * 1000 }),
  };
  if (config.crashAfterColumns === true) {
    console.error(
      "WARNING: test failpoint on (LIVECHARTS_TEST_CRASH_AFTER_COLUMNS): this consumer exits " +
        "right after it adds columns to the table. Unset it unless a test set it.",
    );
    return {
      ...settings,
      onColumnsAdded: (names) => {
        console.error(`failpoint: exiting right after adding columns ${names.join(", ")}`);
        Deno.exit(70);
      },
    };
  }
  const crashAfter = config.crashAfterAppends;
  if (crashAfter === undefined) return settings;
  console.error(
    `WARNING: test failpoint on (LIVECHARTS_TEST_CRASH_AFTER_APPENDS=${crashAfter}): this ` +
      `consumer exits after append ${crashAfter} is acknowledged, before its commit. ` +
      `Unset it unless a test set it.`,
  );
  let acknowledged = 0;
  return {
    ...settings,
    onAcknowledged: (partition) => {
      if (++acknowledged < crashAfter) return;
      console.error(
        `failpoint: exiting after append ${acknowledged} (partition ${partition}) was acknowledged, before its commit`,
      );
      Deno.exit(70);
    },
  };
}

/**
 * How the stream runs: until stopped, or (`--exit-when-idle SECONDS`) until
 * caught up and idle that long.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runSettings } from "./settings.ts";
 * const stop = new AbortController().signal;
 * assert.equal(runSettings({ exitWhenIdle: 2.5 }, stop).exitWhenIdleMs, 2_500);
 * assert.equal(runSettings({ exitWhenIdle: undefined }, stop).exitWhenIdleMs, undefined);
 * ```
 */
export function runSettings(
  config: { exitWhenIdle: number | undefined },
  stop: AbortSignal,
): RunOptions {
  return {
    stop,
    exitWhenIdleMs: config.exitWhenIdle === undefined ? undefined : config.exitWhenIdle * 1000,
  };
}
