// BigQuery's history below the anchors, applied to the counter without BigQuery.

import assert from "node:assert/strict";
import type { PartitionAnchor } from "../../shared/live/anchors.ts";
import { loadHistory } from "../../shared/live/history.ts";
import { warehouseFor } from "../support/harness.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Row {
  id: string;
  artist: string;
  song: number;
  name: string;
  at: number;
  partition: number;
  offset: number;
}

function anchors(below: [number, number][]): PartitionAnchor[] {
  return below.map(([partition, offset]) => ({
    partition,
    below: BigInt(offset),
    start: BigInt(offset),
    end: BigInt(offset),
  }));
}

Deno.test("loadHistory() asks nothing when the group never committed", async () => {
  const history = await loadHistory(warehouseFor("no_such_table"), {
    anchors: anchors([[0, 0], [1, 0]]),
    now: Date.now(),
    allowedLatenessMs: 24 * HOUR,
  });
  assert.deepEqual([history.queries, history.songs.size, history.windows.length], [0, 0, 0]);
});
