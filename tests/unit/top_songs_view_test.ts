import assert from "node:assert/strict";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { topSongsViewSql } from "../../shared/live/top_songs_view.ts";

Deno.test("topSongsViewSql() defines every window over deduplicated plays", () => {
  const sql = topSongsViewSql(loadBigQueryConfig([], {}), "top_songs");
  assert.match(sql, /^CREATE OR REPLACE VIEW `livecharts-local\.music\.top_songs` AS/);
  assert.match(sql, /COUNT\(DISTINCT p\.event_id\) AS plays/);
  assert.match(sql, /FROM `livecharts-local\.music\.plays` AS p/);
  for (const window of ["'5m'", "'1h'", "'24h'", "'all'"]) assert.ok(sql.includes(window), window);
  assert.match(sql, /- 300000\) \/ 1000\) \* 1000/, "5m aligned to 1 s like the dashboard");
});
