// The dashboard at a reduced streaming-service size, against the real local
// broker and the BigQuery emulator: 5,000 artists of 10 songs, a day of
// history stored by the consumer and loaded from BigQuery, more plays read
// live from Kafka. Every artist's plays in every window must equal BigQuery's
// COUNT(DISTINCT event_id) since the same window start, and a sample of
// artists song by song. (The bench's `counting` row runs 100,000 artists.)

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { setUpHistory } from "../../bench/dashboard_start.ts";
import { tail } from "../../shared/launch/tasks.ts";
import {
  allTimePlays,
  bigqueryTop,
  dashboardNames,
  distinctStored,
  fillBigQuery,
  getJson,
  produce,
} from "../support/dashboard.ts";
import { goodEvent, produceRaw, query, waitFor, warehouseFor } from "../support/harness.ts";

const ARTISTS = 5_000;
const CATALOG = ["--catalog-artists", String(ARTISTS), "--catalog-songs-per-artist", "10"];
const WINDOWS = ["5m", "1h", "24h", "all"] as const;

interface Page {
  from: string | null;
  count: number;
  artists: { artist: string; total: number }[];
}

function isPage(body: unknown): body is Page {
  return typeof body === "object" && body !== null && "artists" in body &&
    Array.isArray(body.artists) && "count" in body && typeof body.count === "number";
}

/**
 * Every page of the overview of `window`; the lines where an artist's plays
 * differ from BigQuery's since the same window start (empty when equal).
 */
async function overviewDifferences(url: string, table: string, window: string) {
  const pages: Page[] = [];
  for (let offset = 0;; offset += 1_000) {
    const { status, body } = await getJson(
      url,
      `/api/overview?window=${window}&offset=${offset}&limit=1000`,
    );
    assert.equal(status, 200);
    assert.ok(isPage(body), JSON.stringify(body).slice(0, 200));
    pages.push(body);
    if (offset + 1_000 >= body.count) break;
  }
  const shown = new Map<string, number>();
  const differences: string[] = [];
  for (const from of new Set(pages.map((page) => page.from))) {
    const rows = await query(
      warehouseFor(table),
      `SELECT artist, COUNT(DISTINCT event_id) AS plays
       FROM \`livecharts-local.music.${table}\`
       ${from === null ? "" : "WHERE timestamp >= TIMESTAMP(@from)"}
       GROUP BY artist`,
      from === null ? undefined : { from },
    );
    const stored = new Map(rows.map((row) => [String(row.artist), Number(row.plays)]));
    const mine = pages.filter((page) => page.from === from).flatMap((page) => page.artists);
    for (const { artist, total } of mine) {
      shown.set(artist, total);
      if (stored.get(artist) !== total) {
        differences.push(`${window} ${artist}: ${total} vs BigQuery ${stored.get(artist)}`);
      }
    }
    if (pages.length === 1) {
      for (const [artist, plays] of stored) {
        if (!shown.has(artist)) differences.push(`${window} ${artist}: missing (${plays})`);
      }
    }
  }
  if (pages.length > 1) {
    const count = pages[pages.length - 1]!.count;
    if (shown.size !== count) differences.push(`${window}: ${shown.size} artists of ${count}`);
  }
  return { differences, artists: shown };
}

test("dashboard: 5,000 artists with a day of history equal BigQuery for every artist and window", {
  timeoutMs: 240_000,
}, async () => {
  const names = dashboardNames();
  // A day of plays, stored by the consumer: the history comes from BigQuery.
  await produce(names, 30_000, 51, 0, [...CATALOG, "--spread", "23h"]);
  await fillBigQuery(names);
  const dashboard = await startDashboard(names);
  try {
    // More plays after the start, read live (stored afterwards).
    await produce(names, 10_000, 52, 0, [...CATALOG, "--spread", "10m"]);
    await fillBigQuery(names);
    const stored = await distinctStored(names.table);
    assert.equal(stored, 40_000);
    const [rows] = await query(
      warehouseFor(names.table),
      `SELECT COUNT(*) AS n FROM \`livecharts-local.music.${names.table}\``,
    );
    assert.equal(Number(rows?.n), 40_000, "each play stored once");
    await waitFor(
      "every play counted",
      async () => await allTimePlays(dashboard.url) === stored,
      60_000,
    );

    const played = new Map<string, Map<string, number>>();
    for (const window of WINDOWS) {
      let last: string[] = [];
      await waitFor(`every artist equal in ${window}`, async () => {
        const { differences, artists } = await overviewDifferences(
          dashboard.url,
          names.table,
          window,
        );
        last = differences;
        played.set(window, artists);
        return differences.length === 0;
      }, 30_000).catch((error) => {
        throw new Error(`${error.message}\n${last.slice(0, 10).join("\n")}`);
      });
    }
    const everyone = played.get("all")!;
    assert.ok(everyone.size > 2_000, `${everyone.size} artists played`);
    assert.ok(played.get("24h")!.size > 1_000, `${played.get("24h")!.size} in 24 hours`);

    console.log(
      `catalog: ${stored} plays; artists with plays: ${
        WINDOWS.map((window) => `${window} ${played.get(window)!.size}`).join(", ")
      }`,
    );
    // Song by song, for the head and a stretch of the tail.
    const byPlays = [...everyone].sort((a, b) => b[1] - a[1]).map(([artist]) => artist);
    const sample = [...byPlays.slice(0, 5), ...byPlays.slice(-5)];
    for (const artist of sample) {
      for (const window of ["24h", "all"] as const) {
        const { body } = await getJson(
          dashboard.url,
          `/api/top?artist=${artist}&window=${window}&limit=100`,
        );
        const from = typeof body.from === "string" ? body.from : null;
        const songs = Array.isArray(body.songs) ? body.songs : [];
        assert.deepEqual(
          songs.map((song: { song_id: number; plays: number }) => [song.song_id, song.plays]),
          (await bigqueryTop(names.table, artist, from)).map((song) => [song.song_id, song.plays]),
          `${artist} ${window}`,
        );
      }
    }
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

// BigQuery's answer and the dashboard's side are compared a page and a song
// at a time: with a key per song (a map per window, BigQuery's answer held
// whole), 300,000 songs took more than the dashboard's 64 MB heap and killed
// it as soon as it reconciled.
const RECONCILED_SONGS = 300_000;

test(
  `dashboard: reconciles ${
    RECONCILED_SONGS.toLocaleString("en")
  } songs with BigQuery, equal, and stays up`,
  {
    timeoutMs: 240_000,
  },
  async () => {
    const names = dashboardNames();
    await setUpHistory(names, RECONCILED_SONGS, RECONCILED_SONGS);
    const dashboard = await startDashboard(names, {
      args: ["--reconcile-every", "0"],
      timeoutMs: 120_000,
    });
    try {
      assert.equal(await allTimePlays(dashboard.url), RECONCILED_SONGS);
      const { status, body } = await getJson(dashboard.url, "/api/reconcile");
      assert.equal(status, 200, JSON.stringify(body).slice(0, 500));
      const windows = Array.isArray(body.windows) ? body.windows : [];
      assert.deepEqual(
        windows.map((
          check: Record<string, unknown>,
        ) => [check.window, check.equal, check.different]),
        [["5m", true, 0], ["1h", true, 0], ["24h", true, 0], ["all", true, 0]],
        JSON.stringify(body).slice(0, 1_000),
      );
      const all = windows.find((check: Record<string, unknown>) => check.window === "all");
      assert.deepEqual([all?.dashboard, all?.bigquery], [RECONCILED_SONGS, RECONCILED_SONGS]);
      assert.equal(body.equal, true);
      const health = await getJson(dashboard.url, "/healthz");
      assert.equal(health.body.state, "live");
    } finally {
      const stopped = await dashboard.stop();
      assert.equal(stopped.code, 0, tail(stopped.lines));
    }
  },
);

// One artist with a catalog's worth of songs (a label's compilations, or a
// producer sending random song ids): the artist's page asks for the top
// songs, their series and rank changes. With a series built for every song
// of the artist, 300,000 songs took more than the 64 MB heap and killed the
// dashboard on the first view of the artist.
const ONE_ARTIST_SONGS = 300_000;

test(
  `dashboard: one artist with ${
    ONE_ARTIST_SONGS.toLocaleString("en")
  } songs: the page answers and the dashboard stays up`,
  {
    timeoutMs: 180_000,
  },
  async () => {
    const names = dashboardNames();
    const now = Date.now();
    const plays = Array.from({ length: ONE_ARTIST_SONGS }, (_, i) =>
      JSON.stringify(goodEvent({
        artist: "various-artists",
        song_id: i + 1,
        song_name: `track ${i + 1}`,
        // Over the last 50 minutes; the first song ten times more.
        timestamp: new Date(now - 1_000 - (i % 3_000_000)).toISOString(),
      })));
    for (let i = 0; i < 9; i++) {
      plays.push(
        JSON.stringify(goodEvent({ artist: "various-artists", song_id: 1, song_name: "track 1" })),
      );
    }
    await produceRaw(names.topic, plays);
    const dashboard = await startDashboard(names, { timeoutMs: 120_000 });
    try {
      await waitFor(
        "every play counted",
        async () => await allTimePlays(dashboard.url) === plays.length,
        90_000,
      );
      for (const window of ["5m", "1h", "24h", "all"]) {
        const { status, body } = await getJson(
          dashboard.url,
          `/api/top?artist=various-artists&window=${window}&limit=100`,
        );
        assert.equal(status, 200, `${window}: ${JSON.stringify(body).slice(0, 300)}`);
        const shown = Array.isArray(body.songs) ? body.songs : [];
        assert.equal(shown.length, 100, window);
        assert.deepEqual([shown[0]?.song_id, shown[0]?.plays], [1, 10], window);
        if (window === "1h") {
          assert.equal(body.total, plays.length);
          assert.ok(shown.every((song: { series: unknown }) => Array.isArray(song.series)));
          const series = body.series;
          const total = typeof series === "object" && series !== null && "total" in series &&
              Array.isArray(series.total)
            ? series.total.reduce((sum: number, points: number) => sum + points, 0)
            : -1;
          assert.equal(total, plays.length, "the artist's series counts every song");
        }
      }
      assert.equal((await getJson(dashboard.url, "/healthz")).body.state, "live");
    } finally {
      const stopped = await dashboard.stop();
      assert.equal(stopped.code, 0, tail(stopped.lines));
    }
  },
);
