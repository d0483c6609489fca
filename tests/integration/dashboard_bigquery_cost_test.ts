// What the dashboard may cost in BigQuery, against the real broker and the
// BigQuery emulator seen through a recording stand-in: every query job it
// creates carries maximumBytesBilled, and a dashboard that crash-loops
// waits before asking BigQuery again.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import {
  dashboardNames,
  fillBigQuery,
  getJson,
  produce,
  startBigQueryStandIn,
} from "../support/dashboard.ts";

/** The query jobs among the forwarded requests, with when they came. */
function queryJobs(
  forwarded: { at: number; method: string; path: string; body: string }[],
): { at: number; configuration: Record<string, unknown> }[] {
  return forwarded
    .filter((request) => request.method === "POST" && /\/projects\/[^/]+\/jobs$/.test(request.path))
    .map((request) => {
      const body = JSON.parse(request.body);
      return { at: request.at, configuration: body.configuration.query };
    });
}

test("dashboard: every query job it sends sets maximumBytesBilled", async () => {
  const names = dashboardNames();
  await produce(names, 200, 51);
  await fillBigQuery(names);
  const standIn = startBigQueryStandIn();
  standIn.refusing = false;
  const dashboard = await startDashboard(names, {
    emulator: standIn.url,
    args: ["--max-bytes-billed", "123MB", "--reconcile-every", "0", "--state-dir", ""],
  });
  try {
    const reconciled = await getJson(dashboard.url, "/api/reconcile");
    assert.equal(reconciled.status, 200);
    const jobs = queryJobs(standIn.forwarded);
    // The view, the two history queries, and one per window of the reconciliation.
    assert.ok(jobs.length >= 7, `query jobs sent: ${jobs.length}`);
    for (const job of jobs) {
      assert.equal(job.configuration.maximumBytesBilled, "123000000", JSON.stringify(job));
    }
  } finally {
    const stopped = await dashboard.stop();
    await standIn.close();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

test("dashboard: after two quick crashes in a row it waits before asking BigQuery again", {
  timeoutMs: 120_000,
}, async () => {
  const names = dashboardNames();
  await produce(names, 100, 52);
  await fillBigQuery(names);
  const stateDir = await Deno.makeTempDir({ prefix: "livecharts-state-" });
  const standIn = startBigQueryStandIn();
  standIn.refusing = false;
  const args = ["--reconcile-every", "0", "--state-dir", stateDir, "--crash-backoff", "15s"];
  /** Starts a dashboard; resolves with it and when its first query job came. */
  async function start() {
    const spawnedAt = Date.now();
    const dashboard = await startDashboard(names, { emulator: standIn.url, args });
    const first = queryJobs(standIn.forwarded).find((job) => job.at >= spawnedAt);
    assert.ok(first, "the dashboard asked BigQuery");
    return { dashboard, firstQueryAfterMs: first.at - spawnedAt };
  }
  try {
    // Two runs killed soon after their start: the second one is restarted at once.
    for (let run = 1; run <= 2; run++) {
      const { dashboard, firstQueryAfterMs } = await start();
      assert.ok(firstQueryAfterMs < 15_000, `run ${run} asked after ${firstQueryAfterMs} ms`);
      dashboard.child.kill("SIGKILL");
      await dashboard.child.done;
    }
    // The third start of the loop waits 15 s first, and says why.
    const third = await start();
    assert.ok(third.firstQueryAfterMs >= 15_000, `asked after ${third.firstQueryAfterMs} ms`);
    assert.match(
      tail(third.dashboard.child.lines, 100),
      /waiting 15s before asking BigQuery again/,
    );
    const stopped = await third.dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
    // A clean stop ends the loop: the next start asks at once.
    const after = await start();
    assert.ok(after.firstQueryAfterMs < 15_000, `asked after ${after.firstQueryAfterMs} ms`);
    assert.equal((await after.dashboard.stop()).code, 0);
  } finally {
    await standIn.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});
