/**
 * Integration-test harness: runs the real scripts as subprocesses with the
 * grants their deno.json tasks give them (the launcher's, computed from the
 * same flags and variables, so every run proves those grants are enough),
 * talks to the real local broker and BigQuery emulator, and reads back what
 * landed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  openWarehouse,
  query as queryOnce,
  type Warehouse,
} from "../../shared/bigquery/warehouse.ts";
import { DeadlineExceededError } from "../../shared/bigquery/deadline.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import {
  createAdmin,
  createKafka,
  ensureTopic,
  installKafkaPatches,
  type KafkaClient,
  type KafkaSecurityOptions,
  openPublisher,
  readToEnd,
} from "../../shared/kafka/mod.ts";
import { type Child, spawnTask, waitWithin } from "../../shared/launch/tasks.ts";
import { mergePermissions } from "./permissions.ts";
import { runCommand } from "./command.ts";

const ROOT = new URL("../../", import.meta.url);
const BROKERS = ["127.0.0.1:9092"];

/** A Kafka client of the tests, with kafkajs patched as the scripts patch it. */
function testKafka(
  connection: KafkaSecurityOptions & { brokers?: string[] } = {},
): KafkaClient {
  installKafkaPatches();
  return createKafka({ brokers: BROKERS, ...connection, clientId: "livecharts-tests" });
}

/** A unique, valid name for a topic, group or table. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/** What a script wrote and how it ended. */
export interface ScriptResult {
  code: number;
  stderr: string;
  stdout: string;
}

/** A running script. */
export interface Script {
  child: Child;
  /** Everything written to stderr so far (complete lines). */
  stderr(): string;
  /** Resolves with the exit code once it ended, with all output collected. */
  done: Promise<ScriptResult>;
  /** Sends a signal. */
  kill(signal?: Deno.Signal): void;
}

/** Options of {@linkcode startScript}. */
export interface StartOptions {
  /**
   * Permissions granted on top of the computed ones, merged into its flags
   * (see `mergePermissions`): e.g. `["--allow-net=127.0.0.1:9094"]`.
   */
  permissions?: string[];
}

/**
 * Starts a deno.json task's script with extra flags and variables, in the
 * repository root, with the grants the task's launcher computes for them.
 */
export async function startScript(
  task: string,
  args: string[],
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<Script> {
  const child = await spawnTask(task, args, {
    root: ROOT,
    env: { NO_COLOR: "1", ...env },
    permissions: (runArgs) => mergePermissions(runArgs, options.permissions ?? []),
  });
  return {
    child,
    stderr: () => child.output("stderr"),
    done: child.done.then(({ code }) => ({
      code,
      stderr: child.output("stderr"),
      stdout: child.output("stdout"),
    })),
    kill: child.kill,
  };
}

/** Runs a task's script to completion; throws with its output on a timeout. */
export async function runScript(
  task: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } & StartOptions = {},
): Promise<ScriptResult> {
  const script = await startScript(task, args, options.env, options);
  await waitWithin(script.child, options.timeoutMs ?? 90_000, `${task} ${args.join(" ")}`);
  return await script.done;
}

/** Flags of the produce task (see {@linkcode producerArgs}). */
export interface ProducerFlags {
  /** Events to send; unset: until stopped. */
  count?: number;
  /** Events per second; 0 is as fast as it can. */
  rate: number;
  partitions?: number;
  seed?: number;
  artist?: string;
  /** The log file; "" (the default) writes none. */
  logFile?: string;
}

/** The produce task's flags for `topic`. */
export function producerArgs(topic: string, flags: ProducerFlags): string[] {
  const optional: [string, string | number | undefined][] = [
    ["--count", flags.count],
    ["--rate", flags.rate],
    ["--seed", flags.seed],
    ["--artist", flags.artist],
    ["--partitions", flags.partitions],
  ];
  return [
    "--topic",
    topic,
    ...optional.flatMap(([flag, value]) => value === undefined ? [] : [flag, String(value)]),
    "--log-file",
    flags.logFile ?? "",
  ];
}

/** Starts the produce task for `topic`. */
export function startProducer(topic: string, flags: ProducerFlags): Promise<Script> {
  return startScript("produce", producerArgs(topic, flags));
}

/**
 * Sends `signal` to `script` and waits for it to end; after a SIGTERM (the
 * default) asserts that it exited 0. Returns its stderr.
 */
export async function stopScript(script: Script, signal: Deno.Signal = "SIGTERM"): Promise<string> {
  script.kill(signal);
  const result = await script.done;
  if (signal === "SIGTERM") assert.equal(result.code, 0, result.stderr);
  return result.stderr;
}

/** The port a script started with `--metrics-port 0` serves /metrics on (it logs it). */
export async function metricsPort(script: Script): Promise<number> {
  let port = 0;
  await waitFor("the metrics address", () => {
    port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(script.stderr())?.[1] ?? 0);
    return port > 0;
  }, 60_000);
  return port;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `predicate` holds, polling; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Creates a topic and publishes raw values to it, one partition each in turn. */
export async function produceRaw(
  topic: string,
  values: (string | Uint8Array)[],
  partitions = 3,
): Promise<void> {
  const kafka = testKafka();
  await ensureTopic(kafka, topic, partitions);
  // Idempotent: a retried request (e.g. while a new topic elects leaders) is not written twice.
  const publisher = await openPublisher(kafka);
  try {
    // Requests stay under the broker's 1 MB batch limit, so large test
    // messages travel alone.
    let chunk: (string | Uint8Array)[] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length > 0) {
        await publisher.send(topic, chunk.map((value) => ({ key: null, value })));
      }
      chunk = [];
      bytes = 0;
    };
    for (const value of values) {
      if (chunk.length >= 500 || bytes + value.length > 300_000) await flush();
      chunk.push(value);
      bytes += value.length;
    }
    await flush();
  } finally {
    await publisher.close();
  }
}

/** An open publisher to one topic that sends events as JSON, unkeyed. */
export interface EventSender {
  send(events: readonly Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates `topic` (3 partitions) and opens an {@linkcode EventSender} to it:
 * for tests that time what follows a send, which a fresh connection would slow.
 */
export async function openEventSender(topic: string): Promise<EventSender> {
  const kafka = testKafka();
  await ensureTopic(kafka, topic, 3);
  const publisher = await openPublisher(kafka);
  return {
    async send(events) {
      await publisher.send(
        topic,
        events.map((event) => ({ key: null, value: JSON.stringify(event) })),
      );
    },
    close: () => publisher.close(),
  };
}

/** A message read back from a topic. */
export interface ReadMessage {
  partition: number;
  offset: string;
  value: Uint8Array | null;
  headers: Record<string, string>;
}

/**
 * Reads every message of `topic` from the start (up to its current end), on
 * the shared broker unless `connection` names other brokers and credentials.
 */
export async function readTopic(
  topic: string,
  connection: KafkaSecurityOptions & { brokers?: string[] } = {},
): Promise<ReadMessage[]> {
  const kafka = testKafka(connection);
  const messages: ReadMessage[] = [];
  const decoder = new TextDecoder();
  await readToEnd(kafka, {
    topic,
    onBatch: (records) => {
      for (const { partition, offset, value, headers } of records) {
        const text: Record<string, string> = {};
        for (const [name, bytes] of Object.entries(headers)) text[name] = decoder.decode(bytes);
        messages.push({ partition, offset, value, headers: text });
      }
      return Promise.resolve();
    },
  });
  return messages;
}

/** Committed offsets of `group` on `topic`, by partition. */
export async function committedOffsets(group: string, topic: string): Promise<Map<number, bigint>> {
  const admin = createAdmin(testKafka());
  try {
    const committed = await admin.committed(group, topic);
    return new Map([...committed].map(([partition, { offset }]) => [partition, offset]));
  } finally {
    await admin.close();
  }
}

/** End offsets of `topic`, by partition. */
export async function endOffsets(topic: string): Promise<Map<number, bigint>> {
  const admin = createAdmin(testKafka());
  try {
    return new Map((await admin.topicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.close();
  }
}

/** Messages committed by `group` on `topic`, summed over partitions. */
export async function committedTotal(group: string, topic: string): Promise<bigint> {
  return [...(await committedOffsets(group, topic)).values()].reduce((a, b) => a + b, 0n);
}

/**
 * Waits until `group` committed more than `count` messages of `topic` in all
 * (none committed yet, or no group yet, counts as 0).
 */
export async function waitForCommittedOver(
  group: string,
  topic: string,
  count: bigint,
): Promise<void> {
  await waitFor(
    `${group} to commit more than ${count} messages of ${topic}`,
    async () => (await committedTotal(group, topic).catch(() => 0n)) > count,
    60_000,
    200,
  );
}

/**
 * Waits until `group` committed every partition of `topic` to its end; on a
 * timeout the error carries the end of `script`'s stderr, when given.
 */
export async function waitForCommittedToEnd(
  group: string,
  topic: string,
  options: { timeoutMs?: number; script?: Script } = {},
): Promise<void> {
  await waitFor(
    `${group} committed to the end of ${topic}`,
    async () => {
      const [committed, ends] = await Promise.all([
        committedOffsets(group, topic),
        endOffsets(topic),
      ]);
      return [...ends].every(([partition, end]) => (committed.get(partition) ?? 0n) >= end);
    },
    options.timeoutMs ?? 180_000,
    500,
  ).catch((error) => {
    if (options.script === undefined) throw error;
    throw new Error(`${error.message}\n${logExcerpt(options.script.stderr())}`);
  });
}

/** A script's warnings and errors, then its last lines: what a failed wait is read with. */
export function logExcerpt(stderr: string): string {
  const lines = stderr.split("\n");
  const notable = lines.filter((line) => / (WARNING|ERROR) /.test(line)).slice(-40);
  return `${notable.length} warnings and errors (last 40):\n${notable.join("\n")}\n` +
    `last lines:\n${lines.slice(-15).join("\n")}`;
}

/** `host:port` of the local BigQuery's Storage Write API (gRPC). */
export const STORAGE_API = Deno.env.get("BIGQUERY_STORAGE_EMULATOR_HOST") ?? "127.0.0.1:9060";

/** How many times a test's own query is sent before its deadline error is the answer. */
const QUERY_ATTEMPTS = 3;

/**
 * The product's `query()`, sent again (up to {@linkcode QUERY_ATTEMPTS} in
 * all) when no answer came within the warehouse's deadline. The local
 * BigQuery answers REST calls one at a time on one thread, so a neighbouring
 * test's large insert or query can hold a test's read past one deadline; the
 * test's own timeout still bounds the wait. Any other error is the answer.
 */
export async function query(
  warehouse: Warehouse,
  sql: string,
  params?: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  for (let attempt = 1;; attempt++) {
    try {
      return await queryOnce(warehouse, sql, params);
    } catch (error) {
      if (!(error instanceof DeadlineExceededError) || attempt === QUERY_ATTEMPTS) throw error;
      console.error(
        `test query: ${error.message}; sending it again (${attempt + 1} of ${QUERY_ATTEMPTS})`,
      );
    }
  }
}

/** The local emulator's warehouse for `table`. */
export function warehouseFor(table: string): Warehouse {
  return openWarehouse(loadBigQueryConfig(["--table", table], {}));
}

/** Every row of `table` (event_id and the columns tests look at). */
export async function tableRows(table: string): Promise<Record<string, unknown>[]> {
  const warehouse = warehouseFor(table);
  const rows = await query(
    warehouse,
    `SELECT event_id, user_id, artist, song_id, song_name, event_type,
            UNIX_MILLIS(timestamp) AS timestamp_ms, kafka_partition, kafka_offset
     FROM \`livecharts-local.music.${table}\``,
  );
  return rows.map(({ timestamp_ms, ...row }) => ({
    ...row,
    timestamp: new Date(Number(timestamp_ms)).toISOString(),
  }));
}

/** Fresh names for a test's own topic, consumer group and table: `<prefix>_<id>`. */
export function pipelineNames(prefix: string): { topic: string; group: string; table: string } {
  const id = uniqueName(prefix);
  return { topic: id, group: `group_${id}`, table: id };
}

/** A valid event JSON with a fresh id. */
export function goodEvent(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> & { event_id: string } {
  const eventId = crypto.randomUUID();
  return {
    event_id: eventId,
    user_id: 1 + Math.floor(Math.random() * 100_000),
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: new Date().toISOString(),
    ...overrides,
    ...(typeof overrides.event_id === "string" ? {} : { event_id: eventId }),
  };
}

/** Standard consumer flags for a test's own topic, group and table. */
export function consumerArgs(
  names: { topic: string; group: string; table: string },
  extra: string[] = [],
): string[] {
  return [
    "--topic",
    names.topic,
    "--group",
    names.group,
    "--table",
    names.table,
    "--batch-wait-ms",
    "200",
    // A SIGKILLed member's partitions move after 6 s (the broker's least), not 30 s.
    "--session-timeout-ms",
    String(TEST_SESSION_TIMEOUT_MS),
    ...extra,
  ];
}

/** The consumer group session of test consumers (the broker's group.min.session.timeout.ms). */
export const TEST_SESSION_TIMEOUT_MS = 6_000;

/** Runs `bash infra/services.sh <action> [service]` and throws on failure. */
export async function services(
  action: "up" | "down" | "status",
  service?: "kafka" | "bigquery",
): Promise<void> {
  const result = await runCommand("bash", [
    "infra/services.sh",
    action,
    ...(service ? [service] : []),
  ]);
  if (!result.ok) {
    throw new Error(
      `services.sh ${action} ${service ?? ""} failed:\n${result.stdout}${result.stderr}`,
    );
  }
}

/** Distinct event ids of the events in `topic` (what was really produced). */
export async function topicEventIds(topic: string): Promise<Set<string>> {
  const decoder = new TextDecoder();
  const ids = new Set<string>();
  for (const message of await readTopic(topic)) {
    const value: unknown = JSON.parse(decoder.decode(message.value ?? new Uint8Array()));
    if (
      typeof value === "object" && value !== null && "event_id" in value &&
      typeof value.event_id === "string"
    ) {
      ids.add(value.event_id);
    }
  }
  return ids;
}

/** Distinct event ids stored in `table`. */
export async function storedEventIds(table: string): Promise<Set<string>> {
  const rows = await query(
    warehouseFor(table),
    `SELECT DISTINCT event_id FROM \`livecharts-local.music.${table}\``,
  );
  return new Set(rows.map((row) => String(row.event_id)));
}

/** Rows and distinct event ids in `table`. */
export async function rowCounts(table: string): Promise<{ rows: number; distinct: number }> {
  const [row] = await query(
    warehouseFor(table),
    `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM \`livecharts-local.music.${table}\``,
  );
  return { rows: Number(row?.n), distinct: Number(row?.d) };
}

/** Waits until `table` holds `expected` distinct ids (polling BigQuery). */
export async function waitForStored(
  table: string,
  expected: number,
  timeoutMs = 120_000,
): Promise<void> {
  let last = 0;
  await waitFor(
    `${expected} distinct rows in ${table}`,
    async () => {
      try {
        last = (await storedEventIds(table)).size;
      } catch {
        return false; // table not created yet, or BigQuery restarting
      }
      return last >= expected;
    },
    timeoutMs,
    500,
  ).catch((error) => {
    throw new Error(`${error.message} (have ${last})`);
  });
}
