// A destination that cannot take rows is not a bad event: nothing goes to
// the dead-letter topic, offsets stay where they are, /healthz says why, and
// the consumer goes on by itself once the destination works again. Against
// the real broker and the local BigQuery; a 403 comes from a small local
// stand-in that forwards to the local BigQuery until told to refuse.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { PLAYS_COLUMNS, playsTableMetadata } from "../../shared/schema.ts";
import {
  committedOffsets,
  consumerArgs,
  endOffsets,
  goodEvent,
  metricsPort,
  pipelineNames,
  produceRaw,
  query,
  readTopic,
  rowCounts,
  type Script,
  startProducer,
  startScript,
  stopScript,
  waitFor,
  waitForCommittedOver,
  waitForCommittedToEnd,
  warehouseFor,
} from "../support/harness.ts";
import { scrapeValue } from "../support/prometheus.ts";

async function healthz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: await response.json() };
}

function blockedMetric(port: number, reason: string): Promise<number> {
  return scrapeValue(port, "livecharts_consumer_blocked", { reason });
}

/** Waits for /healthz to say blocked for `reason` (503), and the metric to agree. */
async function waitBlocked(port: number, reason: string, script: Script): Promise<string> {
  let last: { status: number; body: Record<string, unknown> } | undefined;
  await waitFor(
    `/healthz blocked (${reason})`,
    async () => {
      last = await healthz(port);
      return last.status === 503 && last.body.status === "blocked" && last.body.blocked === reason;
    },
    90_000,
    250,
  ).catch((error) => {
    throw new Error(
      `${error.message}; last ${JSON.stringify(last)}\n${script.stderr().slice(-3_000)}`,
    );
  });
  assert.equal(await blockedMetric(port, reason), 1);
  return String(last?.body.reason);
}

async function deadLetters(topic: string): Promise<number> {
  return (await readTopic(`${topic}.dlq`).catch(() => [])).length;
}

/**
 * Per partition, the Kafka offsets stored: they must run without a hole from
 * the first one kept to the end of the partition, each once.
 */
async function assertContiguousToEnd(
  n: { topic: string; table: string },
  cuts: Map<number, bigint>,
) {
  const rows = await query(
    warehouseFor(n.table),
    `SELECT kafka_partition AS p, kafka_offset AS o FROM \`livecharts-local.music.${n.table}\``,
  );
  const ends = await endOffsets(n.topic);
  for (const [partition, end] of ends) {
    const offsets = rows.filter((row) => Number(row.p) === partition).map((row) => Number(row.o))
      .sort((a, b) => a - b);
    assert.equal(new Set(offsets).size, offsets.length, `partition ${partition}: no row twice`);
    const first = offsets[0] ?? Number(end);
    assert.ok(
      first <= Number(cuts.get(partition) ?? end),
      `partition ${partition}: rows kept from ${first}, committed ${
        cuts.get(partition)
      } when the table went`,
    );
    assert.deepEqual(
      offsets,
      Array.from({ length: Number(end) - first }, (_, i) => first + i),
      `partition ${partition}: every offset from ${first} to ${end} stored`,
    );
  }
}

/**
 * The committed offsets once they hold still across one more attempt of the
 * blocked consumer (`attempts` counts them): writes answered just before the
 * block may still commit.
 */
async function offsetsHoldStill(
  n: { group: string; topic: string },
  attempts: () => number,
): Promise<Map<number, bigint>> {
  const text = (offsets: Map<number, bigint>) => [...offsets].map((e) => e.join("@")).join();
  let before = await committedOffsets(n.group, n.topic);
  for (;;) {
    const seen = attempts();
    await waitFor("one more attempt of the blocked consumer", () => attempts() > seen);
    const now = await committedOffsets(n.group, n.topic);
    if (text(now) === text(before)) return now;
    before = now;
  }
}

/** A local stand-in for BigQuery's REST API: forwards, or refuses with `status` while told to. */
function standIn(upstream = "http://127.0.0.1:9050") {
  let refusing: number | undefined;
  let refused = 0;
  let forwarded = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (refusing !== undefined) {
        refused++;
        await request.body?.cancel();
        const forbidden = refusing === 403;
        return Response.json({
          error: {
            code: refusing,
            message: forbidden
              ? "Access Denied: Table livecharts-local:music.plays: Permission bigquery.tables.updateData denied"
              : "Backend error",
            errors: [{ reason: forbidden ? "accessDenied" : "backendError", message: "refused" }],
            status: forbidden ? "PERMISSION_DENIED" : "UNAVAILABLE",
          },
        }, { status: refusing });
      }
      forwarded++;
      const url = new URL(request.url);
      const body = request.body === null ? undefined : await request.arrayBuffer();
      const headers = new Headers(request.headers);
      headers.delete("host");
      const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      return new Response(await answer.arrayBuffer(), {
        status: answer.status,
        headers: answer.headers,
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    refuse(status: number | undefined) {
      refusing = status;
    },
    get refused() {
      return refused;
    },
    /** Requests passed on to BigQuery. */
    get forwarded() {
      return forwarded;
    },
    close: () => server.shutdown(),
  };
}

test({
  name: "destination: a table dropped under load is created again; no dead letter, no hole",
  timeoutMs: 180_000,
  fn: async () => {
    const n = pipelineNames("dest");
    const producer = await startProducer(n.topic, { count: 9_000, rate: 300 });
    const consumer = await startScript("consume", consumerArgs(n));
    try {
      await waitForCommittedOver(n.group, n.topic, 1_000n);
      await warehouseFor(n.table).table.delete();
      await waitFor(
        "the table created again",
        () => /was missing: created it again/.test(consumer.stderr()),
        60_000,
      );
      const cuts = await committedOffsets(n.group, n.topic);
      assert.equal((await producer.done).code, 0);
      await waitForCommittedToEnd(n.group, n.topic, { script: consumer });
      const stderr = await stopScript(consumer);
      assert.equal(stderr.match(/was missing: created it again/g)?.length, 1, "logged once");
      assert.equal(await deadLetters(n.topic), 0);
      await assertContiguousToEnd(n, cuts);
    } finally {
      producer.kill("SIGKILL");
      consumer.kill("SIGKILL");
    }
  },
});

test({
  name:
    "destination: a dropped table the consumer may not create blocks it (503), offsets kept, until it is back",
  timeoutMs: 180_000,
  fn: async () => {
    const n = pipelineNames("dest");
    const producer = await startProducer(n.topic, { count: 6_000, rate: 200 });
    // Through a counting stand-in: how often the blocked consumer looks again shows.
    const bigquery = standIn();
    const consumer = await startScript(
      "consume",
      consumerArgs(n, [
        "--create-table",
        "false",
        "--emulator-host",
        bigquery.url,
        "--metrics-port",
        "0",
      ]),
    );
    const warehouse = warehouseFor(n.table);
    try {
      // Not created by the consumer: it waits for the table, blocked.
      const port = await metricsPort(consumer);
      const reason = await waitBlocked(port, "table-missing", consumer);
      assert.match(reason, /table creation is off/);
      assert.equal((await committedOffsets(n.group, n.topic)).size, 0, "nothing read");
      await warehouse.table.create(playsTableMetadata());
      await waitForCommittedOver(n.group, n.topic, 500n);
      assert.equal((await healthz(port)).status, 200);

      await warehouse.table.delete();
      await waitBlocked(port, "table-missing", consumer);
      const before = await offsetsHoldStill(n, () => bigquery.forwarded);
      const asked = bigquery.forwarded;
      await waitFor("two more looks at the missing table", () => bigquery.forwarded >= asked + 2);
      assert.deepEqual(
        await committedOffsets(n.group, n.topic),
        before,
        "offsets kept while blocked",
      );
      assert.equal(await deadLetters(n.topic), 0);
      const errors =
        consumer.stderr().match(/ERROR .*Cannot write to BigQuery \(table-missing\)/g) ?? [];
      assert.ok(errors.length <= 2, `one ERROR line per blocking, not per batch: ${errors.length}`);

      await warehouse.table.create(playsTableMetadata());
      await waitFor(
        "/healthz healthy again",
        async () => (await healthz(port)).status === 200,
        60_000,
        250,
      );
      assert.equal(await blockedMetric(port, "table-missing"), 0);
      assert.equal((await producer.done).code, 0);
      await waitForCommittedToEnd(n.group, n.topic, { script: consumer });
      const stderr = await stopScript(consumer);
      assert.match(stderr, /BigQuery takes rows again/);
      assert.equal(await deadLetters(n.topic), 0);
      await assertContiguousToEnd(n, before);
    } finally {
      producer.kill("SIGKILL");
      consumer.kill("SIGKILL");
      await bigquery.close();
    }
  },
});

test({
  name:
    "destination: BigQuery answering 403 blocks the consumer (503), no dead letter, offsets unchanged, then it recovers",
  timeoutMs: 270_000,
  fn: async () => {
    const n = pipelineNames("dest");
    const bigquery = standIn();
    const events = Array.from({ length: 1_500 }, () => goodEvent());
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)));
    bigquery.refuse(403);
    const consumer = await startScript(
      "consume",
      consumerArgs(n, ["--emulator-host", bigquery.url, "--metrics-port", "0"]),
    );
    try {
      const port = await metricsPort(consumer);
      const reason = await waitBlocked(port, "permission-denied", consumer);
      assert.match(reason, /Access Denied/);
      assert.ok(bigquery.refused > 0);
      assert.equal((await committedOffsets(n.group, n.topic)).size, 0, "offsets unchanged");
      assert.equal(await deadLetters(n.topic), 0);

      bigquery.refuse(undefined);
      await waitForCommittedToEnd(n.group, n.topic, { timeoutMs: 90_000, script: consumer });
      assert.equal((await healthz(port)).status, 200);
      await stopScript(consumer);
      assert.deepEqual(await rowCounts(n.table), { rows: 1_500, distinct: 1_500 });
      assert.equal(await deadLetters(n.topic), 0);
    } finally {
      consumer.kill("SIGKILL");
      await bigquery.close();
    }
  },
});

test({
  name:
    "destination: insertAll answered 403 while running blocks (503), keeps offsets, recovers; no dead letter",
  timeoutMs: 150_000,
  fn: async () => {
    const n = pipelineNames("dest");
    const bigquery = standIn();
    const producer = await startProducer(n.topic, { count: 3_000, rate: 150 });
    const consumer = await startScript(
      "consume",
      consumerArgs(n, [
        "--write-api",
        "insert-all",
        "--emulator-host",
        bigquery.url,
        "--metrics-port",
        "0",
      ]),
    );
    try {
      const port = await metricsPort(consumer);
      await waitForCommittedOver(n.group, n.topic, 300n);
      bigquery.refuse(403);
      await waitBlocked(port, "permission-denied", consumer);
      const before = await offsetsHoldStill(n, () => bigquery.refused);
      const refused = bigquery.refused;
      await waitFor("two more refused attempts", () => bigquery.refused >= refused + 2);
      assert.deepEqual(await committedOffsets(n.group, n.topic), before, "offsets unchanged");
      assert.equal(await deadLetters(n.topic), 0);
      bigquery.refuse(undefined);
      assert.equal((await producer.done).code, 0);
      await waitForCommittedToEnd(n.group, n.topic, { script: consumer });
      await stopScript(consumer);
      assert.equal((await rowCounts(n.table)).distinct, 3_000);
      assert.equal(await deadLetters(n.topic), 0);
    } finally {
      producer.kill("SIGKILL");
      consumer.kill("SIGKILL");
      await bigquery.close();
    }
  },
});

test({
  name:
    "destination: a table whose schema refuses every row blocks (503) instead of filling the DLQ",
  fn: async () => {
    const n = pipelineNames("dest");
    const warehouse = warehouseFor(n.table);
    const fields = PLAYS_COLUMNS.map((column) =>
      column.name === "artist" ? { ...column, type: "INT64" } : { ...column }
    );
    await warehouse.table.create({ ...playsTableMetadata(), schema: { fields } });
    const events = Array.from({ length: 300 }, () => goodEvent());
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)));
    const consumer = await startScript("consume", consumerArgs(n, ["--metrics-port", "0"]));
    try {
      const port = await metricsPort(consumer);
      const reason = await waitBlocked(port, "schema-mismatch", consumer);
      assert.match(reason, /column 'artist' is INT64 in the table, STRING in the rows/);
      assert.equal(await deadLetters(n.topic), 0);
      // Fixed by hand: the table made again with the right schema.
      await warehouse.table.delete();
      await warehouse.table.create(playsTableMetadata()).catch(() => {});
      await waitForCommittedToEnd(n.group, n.topic, { timeoutMs: 120_000, script: consumer });
      await stopScript(consumer);
      assert.deepEqual(await rowCounts(n.table), { rows: 300, distinct: 300 });
      assert.equal(await deadLetters(n.topic), 0);
    } finally {
      consumer.kill("SIGKILL");
    }
  },
});

test({
  name:
    "destination: a shutdown while writes still fail says the rows were not committed (and exits 1)",
  fn: async () => {
    const n = pipelineNames("dest");
    const bigquery = standIn();
    const consumer = await startScript(
      "consume",
      consumerArgs(n, ["--write-api", "insert-all", "--emulator-host", bigquery.url]),
      { LIVECHARTS_PROGRESS_MS: "200" },
    );
    try {
      await waitFor(
        "the consumer to start",
        () => /Assigned partitions/.test(consumer.stderr()),
        60_000,
      );
      bigquery.refuse(503);
      await produceRaw(n.topic, Array.from({ length: 200 }, () => JSON.stringify(goodEvent())));
      await waitFor("messages read", () => /consumed [1-9]/.test(consumer.stderr()), 60_000);
      const signalled = Date.now();
      consumer.kill("SIGTERM");
      const result = await consumer.done;
      assert.equal(result.code, 1, result.stderr);
      assert.ok(Date.now() - signalled < 15_000, "stops within the shutdown deadline");
      assert.match(
        result.stderr,
        /Stopped before BigQuery took every row read; those rows were not committed and will be read again/,
      );
      assert.equal((await committedOffsets(n.group, n.topic)).size, 0);
    } finally {
      consumer.kill("SIGKILL");
      await bigquery.close();
    }
  },
});
