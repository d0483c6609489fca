import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { insertRows, openWarehouse } from "../../shared/bigquery/warehouse.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import type { SongCompleted } from "../../shared/event.ts";
import { reconcile } from "../../shared/live/reconcile/reconcile.ts";
import { toRow } from "../../shared/schema.ts";
import { ensureTopSongsView } from "../../shared/live/top_songs_view.ts";
import { createPlayCounter } from "../../shared/live/counting/windows.ts";

function event(at: number, songId: number, artist = "tony-allen"): SongCompleted {
  return {
    event_id: crypto.randomUUID(),
    user_id: 1,
    artist,
    song_id: songId,
    song_name: `song-${songId}`,
    event_type: "song_completed",
    timestamp: new Date(at).toISOString(),
  };
}

test("reconcile() finds the dashboard equal to BigQuery, then names a missing play", async () => {
  const table = `reconcile_${crypto.randomUUID().slice(0, 8)}`;
  const warehouse = openWarehouse(loadBigQueryConfig(["--table", table], {}));
  await ensureTopSongsView(warehouse, `${table}_top_songs`);
  const now = Date.now();
  const events = [
    event(now - 5_000, 1),
    event(now - 20 * 60_000, 2),
    event(now - 5 * 3_600_000, 3, "fela-kuti"),
    event(now - 3 * 86_400_000, 4),
  ];
  const duplicate = events[0]!;
  const rows = [...events, duplicate].map((e, i) => ({
    insertId: `${e.event_id}-${i}`,
    json: { ...toRow(e, 0, String(i), new Date().toISOString()) },
  }));
  assert.deepEqual(await insertRows(warehouse.table, rows), []);

  const counter = createPlayCounter({ now });
  for (const e of [...events, duplicate]) counter.add(e);
  const equal = await reconcile(counter, warehouse, now);
  assert.equal(equal.equal, true, JSON.stringify(equal));
  assert.deepEqual(equal.windows.map((w) => [w.window, w.dashboard, w.bigquery]), [
    ["5m", 1, 1],
    ["1h", 2, 2],
    ["24h", 3, 3],
    ["all", 4, 4],
  ]);

  counter.add(event(now - 1_000, 7)); // a play BigQuery does not have
  const differs = await reconcile(counter, warehouse, now);
  assert.equal(differs.equal, false);
  assert.deepEqual(differs.windows[0]!.differences, [
    { artist: "tony-allen", song_id: 7, dashboard: 1, bigquery: 0 },
  ]);
});
