/**
 * The local broker and emulator as the benchmark uses them: unique names
 * per repetition, topic creation and sizes, group progress, and cleanup of
 * what a repetition created (so repetitions do not slow each other down by
 * filling the emulator).
 *
 * @module
 */

import { openWarehouse } from "../shared/bigquery/warehouse.ts";
import { loadBigQueryConfig } from "../shared/bigquery/options.ts";
import { errorMessage } from "../shared/errors.ts";
import {
  createAdmin,
  createKafka,
  ensureTopic,
  type KafkaAdmin,
  type KafkaClient,
} from "../shared/kafka/mod.ts";

/** The broker `deno task up` starts. */
export const BROKERS = ["127.0.0.1:9092"];
/**
 * The BigQuery emulator: the one `deno task up` starts, or
 * `BIGQUERY_EMULATOR_HOST` (inherited by the scripts the benchmark runs).
 */
export const EMULATOR = Deno.env.get("BIGQUERY_EMULATOR_HOST") ?? "http://127.0.0.1:9050";

/** A unique topic, group and table name: `bench_<what>_<random>`. */
export function uniqueName(what: string): string {
  return `bench_${what}_${crypto.randomUUID().slice(0, 8)}`;
}

/** The Kafka client of the benchmark process. */
export function benchKafka(): KafkaClient {
  return createKafka({ brokers: BROKERS, clientId: "livecharts-bench" });
}

/** Creates `topic` with `partitions` partitions (the producer's default is 3). */
export async function createTopic(topic: string, partitions = 3): Promise<void> {
  await ensureTopic(benchKafka(), topic, partitions);
}

/** An admin client (it connects on first use); `close()` disconnects it. */
export function openAdmin(): Promise<KafkaAdmin> {
  return Promise.resolve(createAdmin(benchKafka()));
}

/** Messages in `topic` (sum over partitions of end minus start offset). */
export async function topicSize(admin: KafkaAdmin, topic: string): Promise<number> {
  const offsets = await admin.topicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high - p.low), 0);
}

/** Messages of `topic` whose offsets `group` committed. */
export async function committedCount(
  admin: KafkaAdmin,
  group: string,
  topic: string,
): Promise<number> {
  const lag = await admin.groupLag(group, topic);
  return lag.reduce((sum, p) => sum + Number(p.committed), 0);
}

/** Deletes topics and groups, ignoring what is already gone. */
export async function removeKafka(
  admin: KafkaAdmin,
  names: { topics?: string[]; groups?: string[] },
): Promise<void> {
  if ((names.groups ?? []).length > 0) {
    await admin.deleteGroups(names.groups ?? []).catch(() => {});
  }
  if ((names.topics ?? []).length > 0) {
    await admin.deleteTopics(names.topics ?? []).catch(() => {});
  }
}

/** The emulator's warehouse for `table` (dataset `music` of `livecharts-local`). */
export function benchWarehouse(table: string): ReturnType<typeof openWarehouse> {
  return openWarehouse(loadBigQueryConfig(["--table", table, "--emulator-host", EMULATOR], {}));
}

/** Drops tables (and views), ignoring those that do not exist. */
export async function dropTables(names: string[]): Promise<void> {
  for (const name of names) {
    await benchWarehouse(name).table.delete().catch(() => {});
  }
}

async function getJson(path: string): Promise<unknown> {
  const response = await fetch(`${EMULATOR}/bigquery/v2/projects/livecharts-local/${path}`);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${path}: ${response.status}`);
  }
  return await response.json();
}

function listLength(body: unknown, field: string): number | null {
  if (typeof body !== "object" || body === null) return null;
  const list: unknown = Reflect.get(body, field);
  return list === undefined ? 0 : Array.isArray(list) ? list.length : null;
}

/**
 * What the emulator holds and how fast it answers a metadata request. The
 * emulator serves one request at a time and loads the project's tables and
 * jobs for each, so its speed depends on how much earlier runs left in it:
 * figures from runs with very different states are not comparable.
 */
export async function emulatorState(): Promise<Record<string, unknown>> {
  try {
    const tables = listLength(await getJson("datasets/music/tables?maxResults=100000"), "tables");
    const jobs = listLength(await getJson("jobs?maxResults=100000"), "jobs");
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await getJson("datasets/music");
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return {
      url: EMULATOR,
      tables_in_dataset: tables,
      jobs_in_project: jobs,
      metadata_request_ms: Math.round(times[2]! * 10) / 10,
    };
  } catch (error) {
    return { url: EMULATOR, error: errorMessage(error) };
  }
}
