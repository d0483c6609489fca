// A BigQuery throttling episode, against the real broker and the local
// BigQuery behind a stand-in that answers every append with
// RESOURCE_EXHAUSTED while the episode lasts (tests/support/throttling_proxy.ts:
// the local BigQuery cannot answer so). Real BigQuery allows about 10,000
// CreateWriteStream calls per hour per project and region: a consumer that
// opened a stream per failed append would spend that quota in a long
// episode. This one sends the same appends again on the same streams.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { parseExposition } from "../support/prometheus.ts";
import {
  assertExactly,
  faultNames,
  startLoad,
  stopConsumer,
  waitForRows,
} from "../support/faults.ts";
import {
  consumerArgs,
  metricsPort,
  sleep,
  startScript,
  STORAGE_API,
  topicEventIds,
  waitFor,
  waitForStored,
} from "../support/harness.ts";
import { startThrottlingProxy } from "../support/throttling_proxy.ts";

const EPISODE_MS = 40_000;

/** The sum of every sample named `name` on the consumer's /metrics. */
async function metricSum(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return parseExposition(text).samples.filter((sample) => sample.name === name)
    .reduce((sum, sample) => sum + sample.value, 0);
}

test({
  name:
    "consumer through a 40 s throttling episode (RESOURCE_EXHAUSTED on every append) opens no write stream during it, sends the same appends again, and stores each event once",
  timeoutMs: 200_000,
  fn: async () => {
    const n = faultNames();
    const proxy = await startThrottlingProxy(STORAGE_API);
    const consumer = await startScript(
      "consume",
      consumerArgs(n, ["--storage-emulator-host", proxy.address, "--metrics-port", "0"]),
    );
    const producer = await startLoad(n.topic, 100, 8_000);
    try {
      await waitForRows(n.table, 300);
      const port = await metricsPort(consumer);
      const createdBefore = proxy.calls.get("CreateWriteStream") ?? 0;
      const metricBefore = await metricSum(port, "livecharts_consumer_write_streams_created_total");
      assert.equal(metricBefore, createdBefore, "the metric counts what BigQuery saw");
      proxy.throttle(true);
      await waitFor("appends to be throttled", () => proxy.throttled >= 10, 30_000);
      await sleep(EPISODE_MS);
      const createdDuring = (proxy.calls.get("CreateWriteStream") ?? 0) - createdBefore;
      const throttled = proxy.throttled;
      proxy.throttle(false);
      assert.ok(throttled >= 10, `${throttled} appends answered RESOURCE_EXHAUSTED`);
      assert.equal(createdDuring, 0, "no write stream created during the episode");
      assert.equal(
        await metricSum(port, "livecharts_consumer_write_streams_created_total"),
        metricBefore,
      );
      assert.ok(await metricSum(port, "livecharts_consumer_appends_resent_total") > 0);

      const produced = await producer.done;
      assert.equal(produced.code, 0, produced.stderr);
      const expected = await topicEventIds(n.topic);
      assert.equal(expected.size, 8_000);
      await waitForStored(n.table, expected.size, 120_000);
      await stopConsumer(consumer);
      await assertExactly(n.table, expected);
    } finally {
      consumer.kill("SIGKILL");
      producer.kill("SIGKILL");
      await Promise.allSettled([consumer.done, producer.done]);
      await proxy.close();
    }
  },
});
