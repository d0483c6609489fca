// A dashboard whose consumer group never committed (a wrong KAFKA_GROUP),
// against the real broker and the BigQuery emulator: it anchors on what the
// table holds (the largest kafka_offset per partition), says so, and does
// not replay the topic.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import {
  allTimePlays,
  dashboardNames,
  distinctStored,
  fillBigQuery,
  health,
  numberAt,
  playAt,
  produce,
} from "../support/dashboard.ts";
import { produceRaw, tableRows, waitFor } from "../support/harness.ts";

test("dashboard: a group without commits anchors on the table's offsets, no replay", async () => {
  const names = dashboardNames();
  await produce(names, 300, 61);
  await fillBigQuery(names);
  const stored = await distinctStored(names.table);
  assert.equal((await tableRows(names.table)).length, 300);

  const dashboard = await startDashboard({ ...names, group: `${names.group}_not_the_consumer` });
  try {
    const started = (await health(dashboard.url)).body;
    assert.equal(numberAt(started, ["kafka", "read"]), 0, "nothing replayed from Kafka");
    assert.equal(numberAt(started, ["counter", "seeded"]), stored);
    assert.equal(await allTimePlays(dashboard.url), stored);
    assert.match(
      tail(dashboard.child.lines, 100),
      /has no committed offset on .+ Anchored on what the table holds/,
    );

    // Plays after the table's offsets come from Kafka.
    await produceRaw(
      names.topic,
      Array.from({ length: 20 }, (_, i) => JSON.stringify(playAt(Date.now(), 1 + (i % 4)))),
    );
    await waitFor("the new plays counted", async () => {
      return (await allTimePlays(dashboard.url)) === stored + 20;
    });
    assert.equal(numberAt((await health(dashboard.url)).body, ["kafka", "read"]), 20);
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});
