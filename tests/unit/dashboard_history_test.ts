// BigQuery's history below the anchors: nothing to ask when nothing was committed.

import assert from "node:assert/strict";
import type { PartitionAnchor } from "../../shared/live/feed/anchors.ts";
import { addWindowRows, loadHistory, seedCounter } from "../../shared/live/feed/history.ts";
import { createPlayCounter, heldFrom } from "../../shared/live/counting/mod.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { openWarehouse } from "../../shared/bigquery/warehouse.ts";

Deno.test("loadHistory() asks nothing when the group never committed", async () => {
  const anchors: PartitionAnchor[] = [0, 1].map((partition) => ({
    partition,
    below: 0n,
    start: 0n,
    end: 0n,
  }));
  const warehouse = openWarehouse(loadBigQueryConfig(["--table", "no_such_table"], {}));
  const counter = createPlayCounter();
  const history = await loadHistory(warehouse, {
    anchors,
    now: Date.now(),
    allowedLatenessMs: 24 * 60 * 60_000,
  }, seedCounter(counter));
  assert.deepEqual([history.queries, history.songs, history.buckets], [0, 0, 0]);
  assert.equal(counter.stats.seeded, 0);
});

Deno.test("addWindowRows() reads every bucket of a packed answer and refuses a malformed line with the line", () => {
  const now = Date.UTC(2026, 0, 1, 12);
  const seen: [string, string, number, number, number][] = [];
  const sink = {
    addBucket: (...bucket: [string, string, number, number, number]) => void seen.push(bucket),
  };
  const added = addWindowRows(sink, [
    { artist: "a", songs: "5m -3 0:1\n24h 12 1439:7,0:1\n1h 12 3:20" },
    { artist: "b", songs: "5m 9007199254 599:1" },
  ], now);
  assert.deepEqual(added, { buckets: 5, songs: 2 });
  assert.deepEqual(seen, [
    ["5m", "a", -3, heldFrom("5m", now), 1],
    ["24h", "a", 12, heldFrom("24h", now) + 1439 * 60_000, 7],
    ["24h", "a", 12, heldFrom("24h", now), 1],
    ["1h", "a", 12, heldFrom("1h", now) + 3 * 10_000, 20],
    ["5m", "b", 9007199254, heldFrom("5m", now) + 599_000, 1],
  ]);
  const refused: [string, RegExp][] = [
    ["", /'time_window' must be one of 5m, 1h, 24h, got ""/],
    ["5mm 1 0:1", /'time_window' must be one of 5m, 1h, 24h, got "5mm"/],
    ["5m", /'time_window' must be one of 5m, 1h, 24h, got "5m"/],
    ["5m 1", /expected 'window song_id buckets', got "5m 1"/],
    ["5m x 0:1", /expected 'window song_id buckets', got "5m x 0:1"/],
    ["5m 1.5 0:1", /expected 'window song_id buckets'/],
    ["5m 1 ", /expected 'bucket:plays' pairs, got ""/],
    ["5m 1 0:", /expected 'bucket:plays' pairs, got "0:"/],
    ["5m 1 :1", /expected 'bucket:plays' pairs, got ":1"/],
    ["5m 1 0:1,", /expected 'bucket:plays' pairs, got ""/],
    ["5m 1 0:1x", /expected 'bucket:plays' pairs, got "0:1x"/],
    ["5m 1 0-1", /expected 'bucket:plays' pairs, got "0-1"/],
    ["5m 1 0:1\n", /'time_window' must be one of 5m, 1h, 24h, got ""/],
  ];
  for (const [songs, reason] of refused) {
    assert.throws(
      () => addWindowRows(sink, [{ artist: "x", songs }], now),
      reason,
      JSON.stringify(songs),
    );
  }
});
