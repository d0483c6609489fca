// Integration tests of dashboard.ts against the real local broker and the
// BigQuery emulator: plays go through Kafka, consumer.ts fills BigQuery and
// commits, and the dashboard, which starts from BigQuery's history below the
// committed offsets and reads Kafka from there on, must equal BigQuery's
// recount for every artist and window: after a start, across replicas, and
// once BigQuery is back after being away at start (restarts:
// dashboard_restart_test.ts). Every wait is on a condition.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { freePort, startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import { openWarehouse } from "../../shared/bigquery/warehouse.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { createKafka } from "../../shared/kafka/mod.ts";
import { createLiveFeed } from "../../shared/live/feed/live_feed.ts";
import {
  allTimePlays,
  dashboardNames,
  dashboardState,
  distinctStored,
  fillBigQuery,
  getJson,
  health,
  knownMix,
  numberAt,
  playAt,
  produce,
  startBigQueryStandIn,
  stateDifferences,
  waitForEqualBigQuery,
} from "../support/dashboard.ts";
import {
  committedOffsets,
  consumerArgs,
  produceRaw,
  query,
  runScript,
  startScript,
  waitFor,
  warehouseFor,
} from "../support/harness.ts";

test("dashboard: state after start equals a full recount from BigQuery, for every window", async () => {
  const names = dashboardNames();
  const now = Date.now();
  await produceRaw(names.topic, knownMix(now));
  await produce(names, 400, 11);
  await fillBigQuery(names);

  const dashboard = await startDashboard(names);
  try {
    // Started from BigQuery's history: nothing was above the committed offsets.
    const started = await health(dashboard.url);
    assert.equal(started.status, 200);
    assert.equal(started.body.state, "live");
    assert.deepEqual(started.body.problems, []);
    assert.equal(numberAt(started.body, ["kafka", "read"]), 0);
    assert.equal(numberAt(started.body, ["counter", "seeded"]), await distinctStored(names.table));

    const state = await waitForEqualBigQuery(dashboard.url, names.table, 5_000);
    // Every window differs, so the test really tells them apart.
    const totals = ["5m", "1h", "24h", "all"].map((w) => state.get(`tony-allen ${w}`)!.total);
    assert.equal(new Set(totals).size, 4, JSON.stringify(totals));
    assert.ok(state.has("fela-kuti all"));

    const reconciled = await getJson(dashboard.url, "/api/reconcile");
    assert.equal(reconciled.status, 200);
    assert.equal(reconciled.body.equal, true, JSON.stringify(reconciled.body));

    // The view agrees on all time.
    const viewRows = await query(
      warehouseFor(names.table),
      `SELECT song_id, plays FROM \`livecharts-local.music.${names.view}\`
       WHERE time_window = 'all' AND artist = 'tony-allen' ORDER BY plays DESC, song_id`,
    );
    assert.deepEqual(
      viewRows.map((r) => [Number(r.song_id), Number(r.plays)]),
      state.get("tony-allen all")!.songs,
    );

    // Plays above the committed offsets come from Kafka, once: the
    // dashboard counts them before BigQuery has them, and still equals
    // BigQuery once the consumer stored them (and wrote rows above its
    // commit, which the dashboard's share of BigQuery leaves out).
    const more = Array.from({ length: 30 }, () => playAt(Date.now() - 1_000, 3));
    await produceRaw(names.topic, [...more.map((e) => JSON.stringify(e)), "not json"]);
    await waitFor("the new plays read from Kafka", async () => {
      const body = (await health(dashboard.url)).body;
      return numberAt(body, ["kafka", "read"]) === 31;
    });
    assert.equal(numberAt((await health(dashboard.url)).body, ["kafka", "invalid"]), 1);
    await fillBigQuery(names);
    await waitForEqualBigQuery(dashboard.url, names.table, 10_000);
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

test("dashboard: two replicas started at different times serve identical numbers", {
  timeoutMs: 150_000,
}, async () => {
  const names = dashboardNames();
  await produceRaw(names.topic, knownMix(Date.now()));
  await produce(names, 1_000, 21);
  await fillBigQuery(names);
  // The first one re-anchors every 2 s while the rest flows in.
  const early = await startDashboard(names, { args: ["--reanchor-every", "2s"] });
  let later: Awaited<ReturnType<typeof startDashboard>> | undefined;
  try {
    const consumer = await startScript("consume", consumerArgs(names, ["--exit-when-idle", "4"]));
    const producing = produce(names, 3_000, 22, 600);
    await waitFor(
      "the consumer to commit some of the new plays",
      async () => {
        const offsets = await committedOffsets(names.group, names.topic);
        return [...offsets.values()].reduce((a, b) => a + b, 0n) > 1_400n;
      },
      60_000,
      200,
    );
    later = await startDashboard(names);
    await producing;
    const consumed = await consumer.done;
    assert.equal(consumed.code, 0, consumed.stderr);
    const stored = await distinctStored(names.table);
    for (const dashboard of [early, later]) {
      await waitFor(
        "every play counted",
        async () => (await allTimePlays(dashboard.url)) === stored,
      );
    }
    await waitFor("a re-anchoring", async () => {
      return numberAt((await health(early.url)).body, ["anchor", "reanchored"]) >= 1;
    });
    // Identical, window by window (the same window starts: retry across a bucket edge).
    let differences: string[] = [];
    await waitFor(
      "identical numbers",
      async () => {
        const a = await dashboardState(early.url);
        const b = await dashboardState(later!.url);
        differences = stateDifferences(a, b);
        return differences.length === 0;
      },
      10_000,
      200,
    ).catch((error) => {
      throw new Error(`${error.message}:\n${differences.slice(0, 10).join("\n")}`);
    });
    await waitForEqualBigQuery(later.url, names.table, 5_000);
  } finally {
    await later?.stop();
    const stopped = await early.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

test("dashboard: BigQuery down at start: degraded with the reason, live counting, then equal", {
  timeoutMs: 180_000,
}, async () => {
  const names = dashboardNames();
  await produce(names, 500, 41);
  await fillBigQuery(names);
  const standIn = startBigQueryStandIn();
  const dashboard = await startDashboard(names, {
    emulator: standIn.url,
    until: "serving",
    args: ["--reconcile-every", "0"],
  });
  try {
    await waitFor(
      "the degraded state",
      async () => {
        const { status, body } = await health(dashboard.url);
        return status === 200 && body.state === "degraded" && body.status === "degraded";
      },
      60_000,
      200,
    );
    const degraded = await health(dashboard.url);
    const problems = degraded.body.problems as string[];
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^BigQuery unreachable \(.+\): the history is missing/);
    assert.ok(standIn.refused > 0);

    // Live counting goes on, from the committed offsets.
    const artist = "degraded-test-artist";
    await produceRaw(
      names.topic,
      Array.from(
        { length: 12 },
        (_, i) => JSON.stringify(playAt(Date.now(), 1 + (i % 3), { artist })),
      ),
    );
    let doc: Record<string, unknown> = {};
    await waitFor("the new plays counted", async () => {
      doc = (await getJson(dashboard.url, `/api/top?artist=${artist}&window=5m`)).body;
      return doc.total === 12;
    });
    assert.equal(doc.state, "degraded");
    assert.deepEqual(doc.problems, problems);
    assert.equal(
      (await getJson(dashboard.url, "/api/top?artist=tony-allen&window=all")).body.total,
      0,
      "no history while BigQuery is away",
    );

    // BigQuery is back: the history is added and the numbers converge.
    await fillBigQuery(names);
    standIn.refusing = false;
    await waitFor(
      "the live state",
      async () => {
        const { status, body } = await health(dashboard.url);
        return status === 200 && body.state === "live" && body.status === "ok";
      },
      60_000,
      200,
    );
    assert.deepEqual((await health(dashboard.url)).body.problems, []);
    const state = await waitForEqualBigQuery(dashboard.url, names.table, 10_000);
    assert.equal(state.get(`${artist} 5m`)!.total, 12);
  } finally {
    const stopped = await dashboard.stop();
    await standIn.close();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

test(
  "dashboard: a history that fails half way is counted once: the start begins again on new anchors",
  {
    timeoutMs: 180_000,
  },
  async () => {
    const names = dashboardNames();
    await produce(names, 500, 43);
    await fillBigQuery(names);
    const standIn = startBigQueryStandIn();
    standIn.refusing = false;
    // All time is answered (and counted as read); the windows query is refused.
    standIn.refuses = (request) =>
      request.method === "POST" && request.body.includes("time_window");
    const dashboard = await startDashboard(names, {
      emulator: standIn.url,
      until: "serving",
      args: ["--reconcile-every", "0"],
    });
    try {
      const said = (text: string) => dashboard.child.lines.some((line) => line.text.includes(text));
      await waitFor(
        "a start begun again",
        () => Promise.resolve(said("Starting over")),
        90_000,
        200,
      );
      assert.ok(standIn.refused > 0, "the windows query was refused");
      assert.ok(said("Cannot load the history"), "the history failed");
      assert.match(
        dashboard.child.lines.find((line) => line.text.includes("Starting over"))!.text,
        /part of it was counted \([1-9]\d* plays of all time\)/,
        "part of all time was counted before the failure",
      );
      standIn.refuses = undefined;
      await waitFor(
        "the live state",
        async () => (await health(dashboard.url)).body.state === "live",
        60_000,
        200,
      );
      // Every window and all time equal BigQuery's COUNT(DISTINCT event_id): nothing twice.
      await waitForEqualBigQuery(dashboard.url, names.table, 10_000);
    } finally {
      const stopped = await dashboard.stop();
      await standIn.close();
      assert.equal(stopped.code, 0, tail(stopped.lines));
    }
  },
);

test("live feed: an unreachable Kafka says so (health down, the reason)", async () => {
  const kafka = createKafka({
    brokers: [`127.0.0.1:${freePort()}`],
    clientId: "livecharts-tests",
  });
  const feed = createLiveFeed(kafka, {
    topic: "plays",
    partitions: 1,
    group: "nobody",
    warehouse: openWarehouse(loadBigQueryConfig([], {})),
    allowedLatenessMs: 86_400_000,
    dedupHorizonMs: 600_000,
    reanchorEveryMs: 0,
  });
  const stop = new AbortController();
  const running = feed.run(stop.signal);
  try {
    assert.equal(feed.status().state, "starting");
    await waitFor("Kafka's problem", () => feed.status().health === "down", 60_000);
    const status = feed.status();
    assert.equal(status.state, "starting");
    assert.match(status.problems[0]!, /^Kafka: cannot read plays \(.+\); retrying$/);
  } finally {
    stop.abort();
    await running;
    await feed.stop();
  }
});

test("dashboard: --help lists its options and exits 0", async () => {
  const help = await runScript("dashboard", ["--help"]);
  assert.equal(help.code, 0);
  for (
    const flag of [
      "--port",
      "--host",
      "--allowed-lateness",
      "--view",
      "--reconcile-every",
      "--dedup-horizon",
      "--reanchor-every",
      "--reconcile-api",
      "--reconcile-min-interval",
      "--stream-stall-timeout",
    ]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  assert.match(help.stdout, /DASHBOARD_PORT/);
  const bad = await runScript("dashboard", ["--allowed-lateness", "soon"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /Invalid --allowed-lateness \(DASHBOARD_ALLOWED_LATENESS\): must be a duration/,
  );
});

test("dashboard: API errors, unknown artists, artists list and the live stream", async () => {
  const names = dashboardNames();
  const now = Date.now();
  await produceRaw(names.topic, [
    JSON.stringify(playAt(now - 5_000, 1)),
    JSON.stringify(playAt(now - 5_000, 2, { artist: "fela-kuti" })),
  ]);
  const dashboard = await startDashboard(names, { args: ["--reconcile-every", "0"] });
  try {
    const bad = await getJson(dashboard.url, "/api/top?artist=tony-allen&window=2h");
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /Invalid 'window'/);
    assert.equal((await getJson(dashboard.url, "/api/top?limit=0")).status, 400);
    assert.equal((await getJson(dashboard.url, "/api/stream?artist=%3Cb%3E")).status, 400);

    const unknown = await getJson(dashboard.url, "/api/top?artist=nobody&window=all");
    assert.deepEqual([unknown.status, unknown.body.songs, unknown.body.total], [200, [], 0]);

    const artists = await getJson(dashboard.url, "/api/artists");
    assert.deepEqual(artists.body.artists, [
      { artist: "fela-kuti", plays: 1 },
      { artist: "tony-allen", plays: 1 },
    ]);

    const page = await fetch(dashboard.url);
    assert.match(await page.text(), /<title>livecharts<\/title>/);

    // The stream sends the document, then a new one within a second of a play.
    const response = await fetch(new URL("/api/stream?artist=tony-allen&window=5m", dashboard.url));
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    const nextDoc = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const match = /data: (\{.*\})\n\n/.exec(buffer);
        if (match !== null && match[1] !== "{}") {
          buffer = buffer.slice(match.index + match[0].length);
          return JSON.parse(match[1]!);
        }
        if (match !== null) buffer = buffer.slice(match.index + match[0].length);
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        buffer += value;
      }
    };
    const first = await nextDoc();
    assert.equal(first.total, 1);
    const sentAt = Date.now();
    await produceRaw(names.topic, [JSON.stringify(playAt(Date.now(), 1))]);
    const second = await nextDoc();
    const latency = Date.now() - sentAt;
    assert.equal(second.total, 2);
    assert.ok(latency < 1_500, `pushed ${latency} ms after producing`);
    await reader.cancel();
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});
