// Two dashboards sharded by partition (`--only-partitions`) over plays keyed
// by artist (`produce --key-by artist`), against the real local broker and
// the BigQuery emulator: each shard serves exactly the artists whose key
// hashes to its partitions, each artist whole (every window equal to
// BigQuery's recount of that artist over all partitions), the two shards
// together every artist BigQuery holds, each shard's reconciliation
// scoped to its partitions; and plays produced after the start are counted
// live by the shard that owns them.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import { murmur2 } from "../../shared/kafka/key_partitioner.ts";
import {
  allArtists,
  allTimePlays,
  dashboardNames,
  fillBigQuery,
  getJson,
  health,
  produce,
  waitForEqualBigQuery,
} from "../support/dashboard.ts";
import { query, waitFor, warehouseFor } from "../support/harness.ts";

const PARTITIONS = 3;
const KEYED = ["--key-by", "artist", "--catalog-artists", "300", "--catalog-songs-per-artist", "5"];

/** The partition Kafka's default partitioner gives a message keyed `artist`. */
function partitionOf(artist: string): number {
  return (murmur2(new TextEncoder().encode(artist)) & 0x7fffffff) % PARTITIONS;
}

test("dashboard: two shards by partition each serve their artists whole, equal to BigQuery", {
  timeoutMs: 200_000,
}, async () => {
  const names = dashboardNames();
  await produce(names, 3_000, 61, 0, [...KEYED, "--partitions", String(PARTITIONS)]);
  await fillBigQuery(names);
  const shares = [[0], [1, 2]];
  const shards = [];
  try {
    for (const share of shares) {
      shards.push(
        await startDashboard(names, {
          args: ["--only-partitions", share.join(","), "--reconcile-every", "0"],
        }),
      );
    }
    // More plays after the start: each shard counts its own live.
    await produce(names, 1_500, 62, 0, KEYED);
    const stored = await query(
      warehouseFor(names.table),
      `SELECT kafka_partition AS p, COUNT(*) AS n, COUNT(DISTINCT event_id) AS d
       FROM \`livecharts-local.music.${names.table}\` GROUP BY p`,
    );
    assert.equal(stored.length, PARTITIONS, "the history spans every partition");
    const storedCount = stored.reduce((sum, row) => sum + Number(row.n), 0);
    assert.equal(storedCount, 3_000);
    assert.equal(stored.reduce((sum, row) => sum + Number(row.d), 0), 3_000);
    // Once the consumer stored the second batch too, every artist of a shard
    // equals BigQuery's recount: the shards counted those plays from Kafka.
    await fillBigQuery(names);
    const perShard = [];
    for (const [index, shard] of shards.entries()) {
      // Every artist of the shard's partitions, as BigQuery holds it.
      const owned = (artist: string) => shares[index]!.includes(partitionOf(artist));
      await waitForEqualBigQuery(shard.url, names.table, 60_000, owned);
      perShard.push((await allArtists(shard.url)).map((a) => a.artist));
    }
    // Each artist in exactly the shard of its partition; together, all of them.
    const everyArtist = await query(
      warehouseFor(names.table),
      `SELECT DISTINCT artist FROM \`livecharts-local.music.${names.table}\``,
    );
    const all = everyArtist.map((row) => String(row.artist)).sort();
    assert.ok(all.length > 50, `only ${all.length} artists`);
    assert.deepEqual([...perShard[0]!, ...perShard[1]!].sort(), all);
    for (const [index, artists] of perShard.entries()) {
      assert.ok(artists.length > 0, `shard ${index} serves no artist`);
      for (const artist of artists) assert.ok(shares[index]!.includes(partitionOf(artist)), artist);
    }
    const total = (await allTimePlays(shards[0]!.url)) + (await allTimePlays(shards[1]!.url));
    assert.equal(total, 4_500);
    for (const [index, shard] of shards.entries()) {
      const healthz = await health(shard.url);
      const anchors = String((healthz.body.anchor as Record<string, unknown>).anchors);
      assert.deepEqual(
        anchors.split(" ").map((anchor) => Number(anchor.split(":")[0])),
        shares[index],
      );
      const { status, body } = await getJson(shard.url, "/api/reconcile");
      assert.equal(status, 200, JSON.stringify(body).slice(0, 500));
      assert.equal(body.equal, true, JSON.stringify(body).slice(0, 1_000));
      const windows = body.windows as { window: string; bigquery: number }[];
      const allTime = windows.find((check) => check.window === "all");
      assert.equal(allTime?.bigquery, await allTimePlays(shard.url));
      assert.ok((allTime?.bigquery ?? 0) < 4_500, "reconciled against its partitions only");
    }
  } finally {
    for (const shard of shards) {
      const stopped = await shard.stop();
      assert.equal(stopped.code, 0, tail(stopped.lines));
    }
  }
});

test("dashboard: --only-partitions naming a partition the topic lacks says so in /healthz", {
  timeoutMs: 90_000,
}, async () => {
  const names = dashboardNames();
  await produce(names, 100, 63, 0, ["--partitions", String(PARTITIONS)]);
  const dashboard = await startDashboard(names, {
    until: "serving",
    args: ["--only-partitions", "1,7", "--reconcile-every", "0"],
  });
  try {
    await waitFor("the problem in /healthz", async () => {
      const { body } = await health(dashboard.url);
      const problems = Array.isArray(body.problems) ? body.problems.map(String) : [];
      return problems.some((problem) =>
        problem.includes(`the topic has no partition 7 (its partitions: 0-${PARTITIONS - 1})`)
      );
    }, 30_000);
    assert.notEqual((await health(dashboard.url)).body.state, "live");
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});
