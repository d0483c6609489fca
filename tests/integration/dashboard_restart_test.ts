// The dashboard across restarts, against the real local broker and the
// BigQuery emulator: after Kafka deleted the older records, and SIGKILLed
// during live load. Each must still equal BigQuery's recount.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import { createAdmin, createKafka } from "../../shared/kafka/mod.ts";
import {
  allTimePlays,
  dashboardNames,
  dashboardState,
  distinctStored,
  fillBigQuery,
  health,
  knownMix,
  numberAt,
  playAt,
  produce,
  waitForEqualBigQuery,
} from "../support/dashboard.ts";
import {
  committedOffsets,
  consumerArgs,
  endOffsets,
  produceRaw,
  startScript,
  waitFor,
  waitForCommittedOver,
} from "../support/harness.ts";

test("dashboard: after Kafka deleted the older records, a restart still equals BigQuery", {
  timeoutMs: 150_000,
}, async () => {
  const names = dashboardNames();
  const now = Date.now();
  await produceRaw(names.topic, knownMix(now));
  await produce(names, 600, 12);
  await fillBigQuery(names);
  const first = await startDashboard(names);
  const before = await waitForEqualBigQuery(first.url, names.table, 5_000);
  await first.stop();

  // Retention: every partition loses what the consumer committed.
  const committed = await committedOffsets(names.group, names.topic);
  const admin = createAdmin(createKafka({ brokers: ["127.0.0.1:9092"], clientId: "tests" }));
  try {
    await admin.deleteRecords(names.topic, committed);
    const offsets = await admin.topicOffsets(names.topic);
    for (const { partition, low, high } of offsets) {
      assert.equal(low, committed.get(partition), `partition ${partition} deleted`);
      assert.equal(low, high, `partition ${partition} is empty`);
    }
  } finally {
    await admin.close();
  }
  // More plays after the deletion, some of them stored before the restart.
  await produce(names, 200, 13);
  await fillBigQuery(names);
  await produceRaw(names.topic, [JSON.stringify(playAt(Date.now() - 2_000, 2))]);

  const again = await startDashboard(names);
  try {
    const state = await dashboardState(again.url);
    assert.ok(
      state.get("tony-allen all")!.total > before.get("tony-allen all")!.total,
      "all time holds the deleted history and the new plays",
    );
    await fillBigQuery(names);
    await waitForEqualBigQuery(again.url, names.table, 10_000);
  } finally {
    const stopped = await again.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

test(
  "dashboard: a restart during live load loses and double-counts nothing",
  { timeoutMs: 150_000 },
  async () => {
    const names = dashboardNames();
    await produce(names, 500, 31);
    await fillBigQuery(names);
    const consumer = await startScript("consume", consumerArgs(names, ["--exit-when-idle", "10"]));
    const first = await startDashboard(names);
    const producing = produce(names, 6_000, 32, 600);
    let second: Awaited<ReturnType<typeof startDashboard>> | undefined;
    try {
      await waitFor(
        "plays read live",
        async () => {
          return numberAt((await health(first.url)).body, ["kafka", "read"]) > 1_500;
        },
        60_000,
        200,
      );
      // ... and stored beyond the first 500, so the restart anchors mid-stream.
      await waitForCommittedOver(names.group, names.topic, 600n);
      first.child.kill("SIGKILL");
      await first.child.done;
      second = await startDashboard(names, { args: ["--reanchor-every", "3s"] });
      const restartedAt = await committedOffsets(names.group, names.topic);
      // Plays produced from here on lie above the second dashboard's anchors,
      // however slowly it started.
      await Promise.all([producing, produce(names, 2_000, 33, 800)]);
      const consumed = await consumer.done;
      assert.equal(consumed.code, 0, consumed.stderr);
      // The restart happened mid-stream: part below its anchors, part above.
      const ends = await endOffsets(names.topic);
      const below = [...restartedAt.values()].reduce((a, b) => a + b, 0n);
      assert.ok(below > 500n && below < [...ends.values()].reduce((a, b) => a + b, 0n));
      const stored = await distinctStored(names.table);
      assert.equal(stored, 8_500);
      await waitFor("every play counted once", async () => {
        return (await allTimePlays(second!.url)) === stored;
      }, 30_000);
      await waitForEqualBigQuery(second.url, names.table, 10_000);
    } finally {
      first.child.kill("SIGKILL");
      await second?.stop();
    }
  },
);
