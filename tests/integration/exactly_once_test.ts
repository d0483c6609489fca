// Exactly once into BigQuery, against the real broker and the local
// BigQuery: consumers killed at random moments, killed exactly between an
// acknowledged append and its commit (a test-only failpoint), joining and
// leaving a group under load. Each test ends
// with `COUNT(*) = COUNT(DISTINCT event_id) = N` over the events produced.
//
// While consumers run, progress is read from Kafka (committed offsets), not
// from BigQuery. BigQuery stopped for a while is in tests/exclusive/.

import { seededRandom } from "../support/seed.ts";
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { expectedIds } from "../support/faults.ts";
import {
  committedTotal,
  consumerArgs,
  endOffsets,
  pipelineNames,
  produceRaw,
  query,
  rowCounts,
  type Script,
  sleep,
  startProducer,
  startScript,
  stopScript,
  waitFor,
  waitForCommittedToEnd,
  warehouseFor,
} from "../support/harness.ts";

/** Tutorial-format events: no event_id (derived from where they are read), a zoneless time. */
function tutorialEvents(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      user_id: 500 + i,
      artist: "tony-allen",
      song_id: 1 + (i % 9),
      song_name: `song-${1 + (i % 9)}`,
      event_type: "song_completed",
      timestamp: `2022-11-03 07:${String(10 + (i % 50)).padStart(2, "0")}:13`,
    }));
}

/** Asserts that `table` holds exactly the events of `topic`, each once. */
async function assertExactlyOnce(n: { topic: string; table: string }): Promise<number> {
  const expected = await expectedIds(n.topic);
  const { rows, distinct } = await rowCounts(n.table);
  assert.deepEqual({ rows, distinct }, { rows: expected.size, distinct: expected.size });
  const stored = await query(
    warehouseFor(n.table),
    `SELECT DISTINCT event_id FROM \`livecharts-local.music.${n.table}\``,
  );
  const missing = stored.filter((row) => !expected.has(String(row.event_id)));
  assert.equal(missing.length, 0, "nothing stored that was not produced");
  return expected.size;
}

test({
  name:
    "exactly once: a consumer SIGKILLed at random moments and crashed before a commit, during a 15,000-event load, stores each event once",
  timeoutMs: 300_000,
  fn: async () => {
    const n = pipelineNames("once");
    const { random } = seededRandom("SIGKILL moments");
    // Slow enough that the load lasts through every kill (a killed member's
    // partitions wait for its session to expire, 6 s, before the next one).
    const producer = await startProducer(n.topic, { count: 15_000, rate: 220 });
    let produced = false;
    producer.done.then(() => (produced = true));
    const logs: string[] = [];
    try {
      let tutorialSent = false;
      for (let kill = 0; kill < 4; kill++) {
        const before = await committedTotal(n.group, n.topic).catch(() => 0n);
        // The last one dies between an acknowledged append and its commit, so
        // at least one restart must find rows already stored.
        const crash = kill === 3
          ? { LIVECHARTS_TEST_CRASH_AFTER_APPENDS: String(2 + Math.floor(random() * 4)) }
          : undefined;
        const consumer = await startScript("consume", consumerArgs(n), crash);
        try {
          if (crash !== undefined) {
            const crashed = await consumer.done;
            assert.equal(crashed.code, 70, crashed.stderr.slice(-4_000));
            continue;
          }
          // A killed member keeps its partitions until its session expires (6 s).
          await waitFor(
            "the consumer to commit more",
            async () => {
              const committed = await committedTotal(n.group, n.topic);
              if (committed >= before + 500n) return true;
              const end = [...(await endOffsets(n.topic)).values()].reduce((a, b) => a + b, 0n);
              return produced && committed >= end;
            },
            90_000,
            100,
          ).catch((error) => {
            throw new Error(`${error.message}:\n${consumer.stderr().slice(-4_000)}`);
          });
          if (!tutorialSent) {
            await produceRaw(n.topic, tutorialEvents(600));
            tutorialSent = true;
          }
          await sleep(Math.floor(random() * 1_500));
        } finally {
          consumer.kill("SIGKILL");
          logs.push((await consumer.done).stderr);
        }
      }
      const result0 = await producer.done;
      assert.equal(result0.code, 0, result0.stderr);
      const last = await startScript("consume", consumerArgs(n, ["--exit-when-idle", "3"]));
      const result = await last.done;
      assert.equal(result.code, 0, result.stderr);
      logs.push(result.stderr);
    } finally {
      producer.kill("SIGKILL");
    }
    const stored = await assertExactlyOnce(n);
    assert.equal(stored, 15_600);
    const skipped = logs.join("\n").match(/rows after offset \d+ are already stored/g)?.length ?? 0;
    assert.ok(skipped >= 1, "a restart after the crash found rows already stored and skipped them");
    console.log(
      `3 SIGKILLs and a crash; ${skipped} partition restarts found rows already stored and skipped them`,
    );
  },
});

test({
  name:
    "exactly once: a crash between an acknowledged append and its commit, then a restart: no duplicate",
  timeoutMs: 180_000,
  fn: async () => {
    const n = pipelineNames("once");
    const producer = await startProducer(n.topic, { count: 6_000, rate: 0 });
    assert.equal((await producer.done).code, 0);
    const crashed = await startScript(
      "consume",
      consumerArgs(n, ["--batch-rows", "400"]),
      { LIVECHARTS_TEST_CRASH_AFTER_APPENDS: "5" },
    );
    const crash = await crashed.done;
    assert.equal(crash.code, 70, crash.stderr);
    assert.match(
      crash.stderr,
      /failpoint: exiting after append 5 \(partition \d+\) was acknowledged, before its commit/,
    );
    const rowsAtCrash = (await rowCounts(n.table)).rows;
    const committedAtCrash = Number(await committedTotal(n.group, n.topic));
    assert.ok(
      rowsAtCrash > committedAtCrash,
      `${rowsAtCrash} rows stored, ${committedAtCrash} committed`,
    );

    const restarted = await startScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
    const result = await restarted.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /rows after offset \d+ are already stored .*: skipping them on the re-read/,
    );
    assert.equal(await assertExactlyOnce(n), 6_000);
  },
});

test({
  name: "exactly once: three consumers joining, leaving and one killed during load",
  timeoutMs: 330_000,
  fn: async () => {
    const n = pipelineNames("once");
    // Produces until stopped, so the load lasts through every step however slow the machine.
    const producer = await startProducer(n.topic, { count: 0, rate: 300, partitions: 6 });
    const a = await startScript("consume", consumerArgs(n));
    let b: Script | undefined;
    let c: Script | undefined;
    let delivered = 0;
    try {
      const progress = async (more: bigint) => {
        const before = await committedTotal(n.group, n.topic).catch(() => 0n);
        await waitFor(
          "more commits",
          async () => (await committedTotal(n.group, n.topic)) >= before + more,
          90_000,
          100,
        ).catch((error) => {
          const tails = [a, b, c].map((s) => s?.stderr().slice(-1_500) ?? "").join("\n---\n");
          throw new Error(`${error.message}:\n${tails}`);
        });
      };
      await progress(1_000n);
      b = await startScript("consume", consumerArgs(n));
      await waitFor(
        "b to get partitions",
        () => /Assigned partitions \d/.test(b!.stderr()),
        60_000,
      );
      await progress(1_000n);
      c = await startScript("consume", consumerArgs(n));
      await waitFor(
        "c to get partitions",
        () => /Assigned partitions \d/.test(c!.stderr()),
        60_000,
      );
      await progress(1_000n);
      await stopScript(b); // leaves the group cleanly
      await progress(500n);
      c.kill("SIGKILL"); // its partitions come back after its session expires
      await c.done;
      await progress(500n);
      const produced = await stopScript(producer);
      delivered = Number(/Stopped: (\d+) events delivered/.exec(produced)?.[1]);
      assert.ok(delivered > 3_500, produced.slice(-2_000));
      await waitForCommittedToEnd(n.group, n.topic, { script: a });
      const stderr = await stopScript(a);
      const assignments = stderr.match(/Assigned partitions/g)?.length ?? 0;
      assert.ok(assignments >= 4, `a saw ${assignments} assignments: the group rebalanced`);
    } finally {
      producer.kill("SIGKILL");
      for (const script of [a, b, c]) script?.kill("SIGKILL");
    }
    assert.equal(await assertExactlyOnce(n), delivered);
  },
});
