import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { query } from "../support/harness.ts";
import { insertRows, openWarehouse } from "../../shared/bigquery/warehouse.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { toRow } from "../../shared/schema.ts";
import { ensureTopSongsView, viewRef } from "../../shared/live/top_songs_view.ts";

test("ensureTopSongsView() creates a view Looker Studio can chart", async () => {
  const table = `view_${crypto.randomUUID().slice(0, 8)}`;
  const view = `${table}_top_songs`;
  const config = loadBigQueryConfig(["--table", table], {});
  const warehouse = openWarehouse(config);
  await ensureTopSongsView(warehouse, view);
  await ensureTopSongsView(warehouse, view); // idempotent
  const now = Date.now();
  const rows = [
    { id: crypto.randomUUID(), at: now - 10_000, song: 1, name: "zombie" },
    { id: crypto.randomUUID(), at: now - 30 * 60_000, song: 1, name: "zombie" },
    { id: crypto.randomUUID(), at: now - 2 * 86_400_000, song: 2, name: "lady" },
  ];
  const insert = [...rows, rows[0]!].map((row, i) => ({
    insertId: `${row.id}-${i}`,
    json: {
      ...toRow(
        {
          event_id: row.id,
          user_id: 1,
          artist: "tony-allen",
          song_id: row.song,
          song_name: row.name,
          event_type: "song_completed",
          timestamp: new Date(row.at).toISOString(),
        },
        0,
        String(i),
        new Date().toISOString(),
      ),
    },
  }));
  assert.deepEqual(await insertRows(warehouse.table, insert), []);
  const result = await query(
    warehouse,
    `SELECT time_window, song_id, song_name, plays FROM ${viewRef(config, view)}
     WHERE artist = 'tony-allen' ORDER BY time_window, song_id`,
  );
  assert.deepEqual(result.map((r) => [r.time_window, r.song_id, r.song_name, r.plays]), [
    ["1h", 1, "zombie", 2],
    ["24h", 1, "zombie", 2],
    ["5m", 1, "zombie", 1],
    ["all", 1, "zombie", 2],
    ["all", 2, "lady", 1],
  ]);
});
