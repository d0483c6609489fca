import assert from "node:assert/strict";
import type {} from "../../shared/event.ts";
import { compareCounts } from "../../shared/live/reconcile/reconcile.ts";

Deno.test("compareCounts() lists every differing song, largest difference first", () => {
  const dashboard = new Map([["tony-allen/1", 5], ["tony-allen/2", 3], ["fela-kuti/1", 1]]);
  const bigquery = new Map([["tony-allen/1", 5], ["tony-allen/2", 1], ["tony-allen/9", 1]]);
  assert.deepEqual(compareCounts(dashboard, bigquery), [
    { artist: "tony-allen", song_id: 2, dashboard: 3, bigquery: 1 },
    { artist: "fela-kuti", song_id: 1, dashboard: 1, bigquery: 0 },
    { artist: "tony-allen", song_id: 9, dashboard: 0, bigquery: 1 },
  ]);
  assert.deepEqual(compareCounts(dashboard, new Map(dashboard)), []);
});
