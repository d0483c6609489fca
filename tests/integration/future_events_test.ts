// Event times ahead of the clock, against the real broker and the BigQuery
// emulator: the consumer dead-letters them with their reason (the skew is
// configurable), the dashboard leaves them out, from Kafka and from what an
// earlier, more lenient consumer stored in BigQuery. One rule in both
// (checkEventTime in shared/event.ts).

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import { allTimePlays, dashboardNames, health, numberAt, playAt } from "../support/dashboard.ts";
import {
  consumerArgs,
  goodEvent,
  pipelineNames,
  produceRaw,
  readTopic,
  runScript,
  tableRows,
  waitFor,
} from "../support/harness.ts";

const MINUTE = 60_000;

test("consumer dead-letters events more than --max-future-skew ahead and stores the rest", async () => {
  const n = pipelineNames("future");
  const now = Date.now();
  const valid = Array.from(
    { length: 5 },
    () => goodEvent({ timestamp: new Date(now).toISOString() }),
  );
  // 8 minutes ahead: refused by the default 5m, accepted with --max-future-skew 10m.
  const near = Array.from(
    { length: 2 },
    () => goodEvent({ timestamp: new Date(now + 8 * MINUTE).toISOString() }),
  );
  const far = Array.from(
    { length: 3 },
    () => goodEvent({ timestamp: new Date(now + 120 * MINUTE).toISOString() }),
  );
  await produceRaw(n.topic, [...valid, ...far, ...near].map((event) => JSON.stringify(event)));

  const dlqTopic = `${n.topic}.dlq`;
  const consumed = await runScript(
    "consume",
    consumerArgs(n, ["--exit-when-idle", "2", "--dlq-topic", dlqTopic, "--max-future-skew", "10m"]),
  );
  assert.equal(consumed.code, 0, consumed.stderr);

  const rows = await tableRows(n.table);
  const stored = [...valid, ...near].map((event) => event.event_id).sort();
  assert.equal(rows.length, stored.length, "COUNT(*): one row per accepted event");
  assert.deepEqual(rows.map((row) => String(row.event_id)).sort(), stored);

  const letters = await readTopic(dlqTopic);
  assert.equal(letters.length, far.length);
  const decoder = new TextDecoder();
  for (const letter of letters) {
    const value = JSON.parse(decoder.decode(letter.value!));
    assert.ok(far.some((event) => event.event_id === value.event_id));
    assert.equal(letter.headers["error.kind"], "invalid-event");
    assert.equal(letter.headers["error.field"], "timestamp");
    assert.match(
      letter.headers.error ?? "",
      /^Cannot parse event: 'timestamp' must be at most 10m ahead of the clock \(.+\), got "/,
    );
  }
});

test("dashboard leaves out plays ahead of the clock, read from Kafka or stored in BigQuery", async () => {
  const names = dashboardNames();
  const now = Date.now();
  const valid = Array.from({ length: 6 }, (_, i) => playAt(now - 30_000, 1 + (i % 3)));
  // A song pinned by a producer whose clock is two hours ahead.
  const ahead = Array.from({ length: 4 }, () => playAt(now + 120 * MINUTE, 5));
  await produceRaw(names.topic, [...valid, ...ahead].map((event) => JSON.stringify(event)));
  // An earlier consumer that allowed three hours stored them all in BigQuery.
  const consumed = await runScript(
    "consume",
    consumerArgs(names, ["--exit-when-idle", "2", "--max-future-skew", "3h"]),
  );
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal((await tableRows(names.table)).length, valid.length + ahead.length);

  const dashboard = await startDashboard(names, { args: ["--reconcile-every", "0"] });
  try {
    const started = await health(dashboard.url);
    assert.equal(numberAt(started.body, ["counter", "seeded"]), valid.length);
    assert.equal(await allTimePlays(dashboard.url), valid.length);

    // Live from Kafka: one more ahead of the clock, one valid.
    const more = [playAt(now + 120 * MINUTE, 5), playAt(Date.now(), 2)];
    await produceRaw(names.topic, more.map((event) => JSON.stringify(event)));
    await waitFor("both new plays read from Kafka", async () => {
      const body = (await health(dashboard.url)).body;
      return numberAt(body, ["kafka", "read"]) === 2;
    });
    const body = (await health(dashboard.url)).body;
    assert.equal(numberAt(body, ["kafka", "invalid"]), 1);
    assert.equal(await allTimePlays(dashboard.url), valid.length + 1);
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});
