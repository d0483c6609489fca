// BigQuery's history below the anchors: nothing to ask when nothing was committed.

import assert from "node:assert/strict";
import type { PartitionAnchor } from "../../shared/live/feed/anchors.ts";
import { loadHistory, seedCounter } from "../../shared/live/feed/history.ts";
import { createPlayCounter } from "../../shared/live/counting/mod.ts";
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
