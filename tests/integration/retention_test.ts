// Lag after retention: records deleted before a group read them are not lag.
// Against the real local broker and the BigQuery emulator.

import assert from "node:assert/strict";
import { createAdmin, createKafka, installKafkaPatches } from "../../shared/kafka/mod.ts";
import { lagOf } from "../../shared/kafka/admin.ts";
import {
  consumerArgs,
  endOffsets,
  goodEvent,
  produceRaw,
  startScript,
  storedEventIds,
  uniqueName,
  waitFor,
} from "../support/harness.ts";

installKafkaPatches(); // the scripts' Kafka, in this process too

Deno.test("lagOf() counts a partition never committed from its low watermark", () => {
  const lag = lagOf([{ partition: 0, low: 40n, high: 50n }], new Map());
  assert.deepEqual(lag, [{ partition: 0, committed: 40n, end: 50n, lag: 10n }]);
});

Deno.test("lagOf() counts from the low watermark when retention passed the commit", () => {
  const lag = lagOf([{ partition: 0, low: 40n, high: 50n }], new Map([[0, 10n]]));
  assert.deepEqual(lag, [{ partition: 0, committed: 40n, end: 50n, lag: 10n }]);
});

/** `livecharts_consumer_lag` per partition, from a Prometheus text page. */
function lagSeries(page: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const match of page.matchAll(/^livecharts_consumer_lag\{partition="(\d+)"\} (\S+)$/gm)) {
    series.set(match[1]!, Number(match[2]));
  }
  return series;
}

Deno.test("consumer with a new group exits when idle after retention deleted every record, lag 0, healthy", async () => {
  const id = uniqueName("r");
  const n = { topic: `retained_${id}`, group: `group_${id}`, table: `retained_${id}` };
  await produceRaw(n.topic, Array.from({ length: 300 }, () => JSON.stringify(goodEvent())));
  // What retention does to old records: every partition's are deleted.
  const ends = await endOffsets(n.topic);
  assert.ok([...ends.values()].every((end) => end > 0n), "every partition has records");
  const admin = createAdmin(
    createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" }),
  );
  try {
    await admin.deleteRecords(n.topic, ends);
    const offsets = await admin.topicOffsets(n.topic);
    assert.ok(offsets.every((p) => p.low === p.high && p.high > 0n), "low watermarks moved up");
  } finally {
    await admin.close();
  }

  const consumer = await startScript(
    "consume",
    consumerArgs(n, ["--exit-when-idle", "2", "--metrics-port", "0"]),
  );
  let exited = false;
  const done = consumer.done.finally(() => (exited = true));
  try {
    let url = "";
    await waitFor("the metrics address", () => {
      url = /Serving metrics on (http:\/\/\S+)\/metrics/.exec(consumer.stderr())?.[1] ?? "";
      return url !== "" || exited;
    }, 60_000);
    let lag = new Map<string, number>();
    const health: number[] = [];
    // Watch /metrics and /healthz until the consumer stops by itself.
    const until = Date.now() + 60_000;
    while (!exited && url !== "" && Date.now() < until) {
      try {
        const page = await (await fetch(`${url}/metrics`)).text();
        if (lagSeries(page).size > 0) lag = lagSeries(page);
        const healthz = await fetch(`${url}/healthz`);
        await healthz.body?.cancel();
        health.push(healthz.status);
      } catch {
        // stopped between the check and the request
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(exited, `still running after 60 s, lag ${JSON.stringify([...lag])}`);
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Caught up and idle for 2 s: stopping/);
    assert.ok(lag.size > 0, `the lag was measured: ${result.stderr}`);
    assert.deepEqual([...lag.values()].filter((value) => value !== 0), [], "lag 0 everywhere");
    assert.ok(health.length > 0 && health.every((status) => status === 200), `healthz: ${health}`);
    assert.equal((await storedEventIds(n.table).catch(() => new Set())).size, 0);
  } finally {
    consumer.kill("SIGKILL");
    await done;
  }
});
