/**
 * What the fault tests share: fresh names, the load, and the end checks
 * (BigQuery holds exactly the events produced, and the dashboard agrees).
 *
 * @module
 */

import assert from "node:assert/strict";
import { deriveEventId } from "../../shared/event.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { allArtists } from "./dashboard.ts";
import {
  query,
  readTopic,
  rowCounts,
  startScript,
  storedEventIds,
  uniqueName,
  waitFor,
  warehouseFor,
} from "./harness.ts";

/** Fresh names for a fault test's topic, group and table. */
export function faultNames(): { topic: string; group: string; table: string } {
  const id = uniqueName("f");
  return { topic: `faults_${id}`, group: `group_${id}`, table: `faults_${id}` };
}

/**
 * BigQuery holds exactly `expected`: each id once (`COUNT(*)` too), none
 * missing, none extra; `duplicatesAtMost` allows the rows the consumer says
 * it wrote again after losing a write stream (its one at-least-once fallback).
 */
export async function assertExactly(
  table: string,
  expected: Set<string>,
  options: { duplicatesAtMost?: number } = {},
): Promise<void> {
  const stored = await storedEventIds(table);
  const counts = await rowCounts(table);
  assert.equal(counts.distinct, expected.size, "distinct ids");
  const allowed = options.duplicatesAtMost ?? 0;
  assert.ok(
    counts.rows >= expected.size && counts.rows - expected.size <= allowed,
    `COUNT(*) ${counts.rows} for ${expected.size} events: at most ${allowed} written twice`,
  );
  const missing = [...expected].filter((id) => !stored.has(id));
  const extra = [...stored].filter((id) => !expected.has(id));
  assert.deepEqual({ missing: missing.length, extra: extra.length }, { missing: 0, extra: 0 });
}

/** The dashboard, rebuilt from the topic, shows BigQuery's all-time numbers. */
export async function assertDashboardAgrees(
  n: { topic: string; group: string; table: string },
): Promise<void> {
  const dashboard = await startDashboard({ ...n, view: `${n.table}_top_songs` });
  try {
    const artists = await allArtists(dashboard.url);
    const shown = new Map<string, number>();
    for (const entry of artists) {
      if (typeof entry === "object" && entry !== null && "artist" in entry && "plays" in entry) {
        shown.set(String(entry.artist), Number(entry.plays));
      }
    }
    const rows = await query(
      warehouseFor(n.table),
      `SELECT artist, COUNT(DISTINCT event_id) AS plays FROM \`livecharts-local.music.${n.table}\` GROUP BY artist`,
    );
    const stored = new Map(rows.map((row) => [String(row.artist), Number(row.plays)]));
    assert.deepEqual(shown, stored, "dashboard all-time plays per artist equal BigQuery's");
  } finally {
    await dashboard.stop();
  }
}

/** Runs the producer on the test's topic at `rate` events/s. */
export function startLoad(topic: string, rate: number, count = 0, extra: string[] = []) {
  return startScript("produce", [
    "--topic",
    topic,
    "--rate",
    String(rate),
    "--count",
    String(count),
    "--log-file",
    "",
    ...extra,
  ]);
}

/** Waits until more than `min` distinct rows are stored. */
export function waitForRows(table: string, min: number): Promise<void> {
  return waitFor(
    `more than ${min} rows in ${table}`,
    async () => (await storedEventIds(table).catch(() => new Set())).size > min,
    60_000,
    200,
  );
}

/** Stops a consumer with SIGTERM; it must exit 0. Resolves with its stderr. */
export async function stopConsumer(
  consumer: Awaited<ReturnType<typeof startScript>>,
): Promise<string> {
  consumer.kill("SIGTERM");
  const result = await consumer.done;
  assert.equal(result.code, 0, result.stderr);
  return result.stderr;
}

/** The event ids the topic's messages stand for (derived for tutorial events). */
export async function expectedIds(topic: string): Promise<Set<string>> {
  const decoder = new TextDecoder();
  const ids = new Set<string>();
  for (const message of await readTopic(topic)) {
    const value: unknown = JSON.parse(decoder.decode(message.value ?? new Uint8Array()));
    const id = typeof value === "object" && value !== null && "event_id" in value
      ? String(value.event_id)
      : deriveEventId({ topic, partition: message.partition, offset: message.offset });
    ids.add(id);
  }
  return ids;
}
