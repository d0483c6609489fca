// The dashboard holds songs and artists only while they have plays in a
// window: on a reduced catalog (300 artists, 1,500 songs) read from BigQuery's
// history and from Kafka, the plays age out of the 24-hour window as the
// dashboard's clock moves on, the counts it exposes shrink, and every number
// (each window and all time) still equals BigQuery's. Real broker, local
// BigQuery; the clock is the live feed's own `now`.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { createKafka } from "../../shared/kafka/mod.ts";
import { createLiveFeed } from "../../shared/live/feed/live_feed.ts";
import { dashboardMetrics } from "../../shared/live/metrics.ts";
import { createDashboardHandler } from "../../shared/live/http/server.ts";
import { songKey, WINDOW_NAMES, windowStart } from "../../shared/live/counting/windows.ts";
import { dashboardNames, fillBigQuery, playAt } from "../support/dashboard.ts";
import { produceRaw, query, waitFor, warehouseFor } from "../support/harness.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** BigQuery's `COUNT(DISTINCT event_id)` per `artist/song_id` from `from` (all time when undefined). */
async function bigqueryCounts(table: string, from: number | undefined) {
  const rows = await query(
    warehouseFor(table),
    `SELECT artist, song_id, COUNT(DISTINCT event_id) AS plays, COUNT(*) AS rows_stored
     FROM \`livecharts-local.music.${table}\`
     ${from === undefined ? "" : `WHERE timestamp >= TIMESTAMP_MILLIS(${from})`}
     GROUP BY artist, song_id`,
  );
  const plays = new Map<string, number>();
  let rows_stored = 0;
  for (const row of rows) {
    plays.set(songKey(String(row.artist), Number(row.song_id)), Number(row.plays));
    rows_stored += Number(row.rows_stored);
  }
  return { plays, rows: rows_stored };
}

function metric(text: string, name: string): number {
  const match = text.match(new RegExp(`^${name} (\\d+)$`, "m"));
  return match === null ? NaN : Number(match[1]);
}

test(
  "dashboard: songs and artists whose plays left every window are evicted; numbers still equal BigQuery's",
  {
    timeoutMs: 240_000,
  },
  async () => {
    const names = dashboardNames();
    const start = Date.now();
    // A reduced catalog: 300 artists of 5 songs, played 23 h 50 min ago (24 hours only),
    // each song also three days ago (all time only); two artists play now.
    const catalog = (at: number) =>
      Array.from({ length: 300 * 5 }, (_, i) =>
        JSON.stringify(
          playAt(at, i % 5, { artist: `artist-${Math.floor(i / 5)}`, song_name: `song-${i % 5}` }),
        ));
    const recent = (at: number) =>
      ["tony-allen", "fela-kuti"].flatMap((artist) =>
        [1, 2, 3].map((song) => JSON.stringify(playAt(at, song, { artist })))
      );
    await produceRaw(names.topic, [
      ...catalog(start - 72 * HOUR),
      ...catalog(start - 23 * HOUR - 50 * MINUTE),
    ]);
    await fillBigQuery(names); // history: from BigQuery, below the committed offsets
    await produceRaw(names.topic, recent(start - MINUTE)); // live: read from Kafka above them

    let clock = start;
    const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" });
    const feed = createLiveFeed(kafka, {
      topic: names.topic,
      partitions: 3,
      group: names.group,
      warehouse: warehouseFor(names.table),
      allowedLatenessMs: 24 * HOUR,
      dedupHorizonMs: 10 * MINUTE,
      reanchorEveryMs: 0,
      now: () => clock,
    });
    const metrics = dashboardMetrics({
      feed: () => feed.stats,
      counter: () => feed.counter().stats,
      streams: () => 0,
    }, { defaultMetrics: false });
    const http = createDashboardHandler({
      counter: feed.counter,
      status: feed.status,
      staticDir: new URL("../../web/", import.meta.url),
      health: () => ({ healthy: true, body: { counter: feed.counter().stats } }),
      now: () => clock,
    });
    const stop = new AbortController();
    const running = feed.run(stop.signal);

    async function assertEqualsBigQuery(): Promise<void> {
      for (const window of WINDOW_NAMES) {
        const from = windowStart(window, clock);
        const mine = feed.counter().counts(window, clock).plays;
        const theirs = await bigqueryCounts(names.table, from);
        assert.deepEqual(
          [...mine].sort(),
          [...theirs.plays].sort(),
          `the ${window} window equals BigQuery's COUNT(DISTINCT event_id)`,
        );
        const distinct = [...theirs.plays.values()].reduce((a, b) => a + b, 0);
        assert.equal(theirs.rows, distinct, `each play stored once (COUNT(*) in ${window})`);
      }
      const top = await http.handler(
        new Request("http://127.0.0.1/api/top?artist=artist-7&window=all&limit=100"),
      );
      const body = await top.json();
      assert.equal(body.total, 10);
      assert.deepEqual(
        body.songs.map((song: { song_id: number; plays: number }) => [song.song_id, song.plays]),
        [[0, 2], [1, 2], [2, 2], [3, 2], [4, 2]],
      );
    }

    try {
      await waitFor("the live state", () => feed.isLive(), 90_000, 100);
      // The plays read from Kafka stored too, for BigQuery's recount.
      await fillBigQuery(names);
      const before = await metrics.metrics();
      assert.equal(metric(before, "livecharts_dashboard_songs"), 1_506);
      assert.equal(metric(before, "livecharts_dashboard_artists"), 302);
      assert.equal(metric(before, "livecharts_dashboard_all_time_songs"), 1_506);
      await assertEqualsBigQuery();
      const healthBefore = await (await http.handler(new Request("http://127.0.0.1/healthz")))
        .json();
      assert.equal(healthBefore.counter.songs, 1_506);

      // 15 minutes later the catalog's plays have left the 24 hours: only the two artists playing now are held.
      clock = start + 15 * MINUTE;
      feed.counter().advance(clock);
      const after = await metrics.metrics();
      assert.equal(metric(after, "livecharts_dashboard_songs"), 6);
      assert.equal(metric(after, "livecharts_dashboard_artists"), 2);
      assert.equal(metric(after, "livecharts_dashboard_all_time_songs"), 1_506);
      await assertEqualsBigQuery();
      const artists = await (await http.handler(
        new Request("http://127.0.0.1/api/artists?limit=1000"),
      )).json();
      assert.equal(artists.count, 302, "every artist of all time is still listed");
      assert.equal(artists.artists.length, 302);
      const overview = await (await http.handler(
        new Request("http://127.0.0.1/api/overview?window=24h"),
      )).json();
      assert.deepEqual(
        overview.artists.map((entry: { artist: string }) => entry.artist).sort(),
        ["fela-kuti", "tony-allen"],
        "the 24 hours' overview holds the artists playing now only",
      );

      // An evicted song played again (now, by the consumer's clock): read from Kafka, counted in
      // the windows and on top of its all time.
      const again = JSON.stringify(
        playAt(Date.now(), 4, { artist: "artist-7", song_name: "song-4" }),
      );
      await produceRaw(names.topic, [again]);
      await waitFor("the play read again", () => feed.counter().stats.songs === 7, 30_000, 100);
      await fillBigQuery(names);
      const top = await (await http.handler(
        new Request("http://127.0.0.1/api/top?artist=artist-7&window=1h&limit=10"),
      )).json();
      assert.deepEqual(
        top.songs.map((song: { song_id: number; song_name: string; plays: number }) => [
          song.song_id,
          song.song_name,
          song.plays,
        ]),
        [[4, "song-4", 1]],
      );
      for (const window of WINDOW_NAMES) {
        const mine = feed.counter().counts(window, clock).plays;
        const theirs = await bigqueryCounts(names.table, windowStart(window, clock));
        assert.deepEqual(
          [...mine].sort(),
          [...theirs.plays].sort(),
          `${window} after a play again`,
        );
      }
      assert.equal(feed.counter().counts("all", clock).plays.get("artist-7/4"), 3);
    } finally {
      stop.abort();
      http.close();
      await running;
      await feed.stop();
    }
  },
);
