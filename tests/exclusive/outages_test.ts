// Fault tests: the pipeline under the failures real clusters have. Each test
// produces a known set of events and ends by asserting that BigQuery holds
// exactly that set of distinct event ids: nothing lost, nothing extra.
//
// Every test here stops and starts a shared local service
// (`infra/services.sh`), so these run one at a time, after the integration
// tests that run side by side.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { scrapeValue } from "../support/prometheus.ts";
import {
  assertDashboardAgrees,
  assertExactly,
  expectedIds,
  faultNames,
  startLoad,
  stopConsumer,
  waitForRows,
} from "../support/faults.ts";
import {
  committedOffsets,
  consumerArgs,
  logExcerpt,
  metricsPort,
  pipelineNames,
  rowCounts,
  services,
  sleep,
  startProducer,
  startScript,
  stopScript,
  topicEventIds,
  waitFor,
  waitForCommittedOver,
  waitForCommittedToEnd,
  waitForStored,
} from "../support/harness.ts";

test(
  "faults: the broker stopped for 20 s during producing and consuming",
  { timeoutMs: 270_000 },
  async () => {
    const n = faultNames();
    const consumer = await startScript("consume", consumerArgs(n));
    const producer = await startLoad(n.topic, 150, 6000);
    try {
      await waitForRows(n.table, 100);
      await services("down", "kafka");
      await sleep(20_000);
      await services("up", "kafka");
      const produced = await producer.done;
      assert.equal(produced.code, 0, produced.stderr);
      const delivered = Number(/Stopped: (\d+) events delivered/.exec(produced.stderr)?.[1]);
      assert.equal(delivered, 6_000, produced.stderr);
      // What the producer reported delivered is in the topic: a record Kafka
      // acknowledged but did not write shows up here as a missing id.
      const expected = await topicEventIds(n.topic);
      assert.equal(expected.size, delivered, "distinct event ids in the topic = events delivered");
      await waitForStored(n.table, expected.size, 180_000);
      await stopConsumer(consumer);
      await assertExactly(n.table, expected);
      await assertDashboardAgrees(n);
    } finally {
      await services("up", "kafka");
      producer.kill("SIGKILL");
      consumer.kill("SIGKILL");
    }
  },
);

test(
  "faults: BigQuery unavailable for 15 s: the consumer backs off, commits nothing unwritten, catches up",
  { timeoutMs: 240_000 },
  async () => {
    const n = faultNames();
    const consumer = await startScript("consume", consumerArgs(n, ["--metrics-port", "0"]));
    let exited = false;
    consumer.done.then(() => (exited = true));
    const producer = await startLoad(n.topic, 200, 8000);
    try {
      await waitForRows(n.table, 100);
      await services("down", "bigquery");
      await waitFor(
        "the consumer to pause fetching",
        () => /Pausing fetches until writes succeed again/.test(consumer.stderr()),
        60_000,
      );
      // Writes that succeeded just before may still commit: wait until the
      // committed offsets hold still, then watch them for the rest of the outage.
      let before = await committedOffsets(n.group, n.topic);
      await waitFor(
        "the committed offsets to hold still",
        async () => {
          const now = await committedOffsets(n.group, n.topic);
          const text = (offsets: Map<number, bigint>) =>
            [...offsets].map((e) => e.join("@")).join();
          const still = text(now) === text(before);
          before = now;
          return still;
        },
        30_000,
        2_000,
      );
      await sleep(10_000); // the rest of the outage
      const after = await committedOffsets(n.group, n.topic);
      assert.deepEqual(after, before, "no commit while BigQuery is down");
      assert.equal(exited, false, "the consumer keeps running");
      await services("up", "bigquery");
      const produced = await producer.done;
      assert.equal(produced.code, 0, produced.stderr);
      const expected = await topicEventIds(n.topic);
      assert.equal(expected.size, 8_000);
      await waitForStored(n.table, expected.size, 180_000).catch((error) => {
        throw new Error(`${error.message}\n${logExcerpt(consumer.stderr())}`);
      });
      // The restarted local BigQuery lost its write streams: the rows after
      // each stream's last commit are written again, and counted.
      const rewritten = await scrapeValue(
        await metricsPort(consumer),
        "livecharts_consumer_rows_rewritten_total",
      );
      const stderr = await stopConsumer(consumer);
      assert.match(stderr, /Pausing fetches until writes succeed again/);
      assert.match(stderr, /resuming fetches/);
      await assertExactly(n.table, expected, { duplicatesAtMost: rewritten });
      await assertDashboardAgrees(n);
    } finally {
      await services("up", "bigquery");
      producer.kill("SIGKILL");
      consumer.kill("SIGKILL");
    }
  },
);

test({
  name:
    "exactly once: BigQuery down for 15 s, its write streams lost: the consumer asks BigQuery what it holds, nothing lost, nothing twice",
  timeoutMs: 360_000,
  fn: async () => {
    const n = pipelineNames("once");
    const producer = await startProducer(n.topic, { count: 12_000, rate: 300 });
    const consumer = await startScript("consume", consumerArgs(n, ["--metrics-port", "0"]));
    try {
      const port = await metricsPort(consumer);
      await waitForCommittedOver(n.group, n.topic, 500n);
      await services("down", "bigquery");
      await sleep(15_000); // the outage
      await services("up", "bigquery");
      const produced = await producer.done;
      assert.equal(produced.code, 0, produced.stderr);
      await waitForCommittedToEnd(n.group, n.topic, { script: consumer });
      const lost = await scrapeValue(port, "livecharts_consumer_streams_lost_total");
      const rewritten = await scrapeValue(port, "livecharts_consumer_rows_rewritten_total");
      const stderr = await stopScript(consumer);
      assert.match(stderr, /Pausing fetches until writes succeed again/);
      // The fault happened: the restarted local BigQuery lost the write streams.
      assert.match(stderr, /write stream \S+ no longer exists/);
      // Its row count gone, the consumer asked BigQuery which offsets it holds:
      // no at-least-once fallback was needed.
      assert.equal(lost, 0, `streams given up for at least once: ${lost}`);
      assert.equal(rewritten, 0, `rows written again blind: ${rewritten}`);
      const expected = await expectedIds(n.topic);
      assert.equal(expected.size, 12_000);
      await assertExactly(n.table, expected);
      const { rows } = await rowCounts(n.table);
      console.log(`outage: write streams lost, BigQuery asked; ${rows} rows for 12,000 events`);
    } finally {
      await services("up", "bigquery");
      producer.kill("SIGKILL");
      consumer.kill("SIGKILL");
    }
  },
});
