// Integration tests of dashboard.ts against the real local broker and the
// BigQuery emulator: a known mix goes through Kafka, consumer.ts fills
// BigQuery, and the dashboard's numbers must equal BigQuery's for every window.

import assert from "node:assert/strict";
import { WINDOW_NAMES } from "../shared/live/windows.ts";
import { startDashboard } from "../bench/dashboard.ts";
import { tail } from "../shared/cli/tasks.ts";
import { bigqueryTop, dashboardNames, getJson, knownMix, playAt } from "./support/dashboard.ts";
import { consumerArgs, produceRaw, runScript } from "./support/harness.ts";
import { query } from "../shared/bigquery/warehouse.ts";
import { warehouseFor } from "./support/harness.ts";

type Song = { song_id: number; song_name: string; plays: number };

async function fillBigQuery(names: ReturnType<typeof dashboardNames>): Promise<void> {
  const consumed = await runScript("consume", consumerArgs(names, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);
}

async function assertEqualsBigQuery(
  url: string,
  table: string,
  artist: string,
): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const window of WINDOW_NAMES) {
    const { status, body } = await getJson(
      url,
      `/api/top?artist=${artist}&window=${window}&limit=100`,
    );
    assert.equal(status, 200);
    const songs = body.songs as Song[];
    const expected = await bigqueryTop(table, artist, body.from as string | null);
    assert.deepEqual(
      songs.map((s) => ({ song_id: s.song_id, plays: s.plays })),
      expected,
      `${artist} ${window} from ${body.from}`,
    );
    assert.equal(body.total, expected.reduce((sum, s) => sum + s.plays, 0));
    totals[window] = body.total as number;
  }
  return totals;
}

Deno.test("dashboard: /api/top equals BigQuery for every window, also after a restart", async () => {
  const names = dashboardNames();
  const now = Date.now();
  await produceRaw(names.topic, knownMix(now));
  const produced = await runScript("produce", [
    "--topic",
    names.topic,
    "--count",
    "400",
    "--rate",
    "0",
    "--seed",
    "11",
    "--log-file",
    "",
  ]);
  assert.equal(produced.code, 0, produced.stderr);
  await fillBigQuery(names);

  const dashboard = await startDashboard(names);
  let totals: Record<string, number>;
  try {
    totals = await assertEqualsBigQuery(dashboard.url, names.table, "tony-allen");
    await assertEqualsBigQuery(dashboard.url, names.table, "fela-kuti");
    // Every window differs, so the test really tells them apart.
    assert.equal(new Set(Object.values(totals)).size, 4, JSON.stringify(totals));

    const reconciled = await getJson(dashboard.url, "/api/reconcile");
    assert.equal(reconciled.status, 200);
    assert.equal(reconciled.body.equal, true, JSON.stringify(reconciled.body));

    // The view agrees on all time.
    const viewRows = await query(
      warehouseFor(names.table),
      `SELECT song_id, plays FROM \`livecharts-local.music.${names.view}\`
       WHERE time_window = 'all' AND artist = 'tony-allen' ORDER BY plays DESC, song_id`,
    );
    const all = await getJson(dashboard.url, "/api/top?artist=tony-allen&window=all&limit=100");
    assert.deepEqual(
      viewRows.map((r) => [Number(r.song_id), Number(r.plays)]),
      (all.body.songs as Song[]).map((s) => [s.song_id, s.plays]),
    );

    const health = await getJson(dashboard.url, "/healthz");
    const kafka = health.body.kafka as Record<string, number>;
    assert.equal(kafka.invalid, 2, "invalid messages are skipped and counted");
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }

  // A restart rebuilds the same state from the topic.
  const again = await startDashboard(names);
  try {
    const after = await assertEqualsBigQuery(again.url, names.table, "tony-allen");
    assert.equal(after.all, totals.all);
    assert.equal(after["24h"], totals["24h"]);
  } finally {
    await again.stop();
  }
});

Deno.test("dashboard: API errors, unknown artists, artists list and the live stream", async () => {
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

Deno.test("dashboard: --help lists its options and exits 0", async () => {
  const help = await runScript("dashboard", ["--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--port", "--host", "--allowed-lateness", "--view", "--reconcile-every"]) {
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
