// A deploy between a crash and its recovery, against the real broker and the
// local BigQuery: the previous release decoded differently (it dead-lettered
// events the current release stores), crashed after appending rows past its
// last commit, and left a marker of its decoder version. The current
// consumer must not count the re-read rows against the old stream (they are
// other rows): it asks BigQuery which offsets it holds and stores each event
// once. Also: a clean stop records the finalize in the marker.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { openDestination } from "../../shared/bigquery/mod.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { createAdmin, createKafka, createSource } from "../../shared/kafka/mod.ts";
import type { PlayRow } from "../../shared/schema.ts";
import { formatMarker, parseMarker } from "../../shared/sink/commit_marker.ts";
import { decodeMessage, DECODER_VERSION } from "../../shared/sink/sink.ts";
import {
  consumerArgs,
  goodEvent,
  pipelineNames,
  produceRaw,
  readTopic,
  rowCounts,
  runScript,
  STORAGE_API,
  storedEventIds,
  waitFor,
} from "../support/harness.ts";

const EVENTS = 400;
/** Where the previous release's last commit was. */
const COMMITTED = 100;
/** How far it had appended when it crashed. */
const APPENDED = 260;

/** Commits `offset` with `metadata` for `group` on partition 0 of `topic`, as a member would. */
async function commitAs(group: string, topic: string, offset: bigint, metadata: string) {
  const source = createSource(createKafka({ brokers: ["127.0.0.1:9092"], clientId: "tests" }), {
    topic,
    group,
    maxWaitMs: 100,
  });
  let done = false;
  let failure: unknown;
  await source.run(async (batch) => {
    if (done) return;
    try {
      await source.commit(batch.partition, offset, metadata);
    } catch (error) {
      failure = error;
    }
    done = true;
  });
  try {
    await waitFor("the commit of the previous release", () => done, 30_000);
  } finally {
    await source.stop();
  }
  if (failure !== undefined) throw failure;
}

test({
  name:
    "consumer after a decoder change asks BigQuery which offsets it holds: rows the old release stored past its commit are kept, the others written, each event once",
  timeoutMs: 120_000,
  fn: async () => {
    const n = pipelineNames("decoder");
    const events = Array.from({ length: EVENTS }, () => goodEvent());
    await produceRaw(n.topic, events.map((event) => JSON.stringify(event)), 1);
    const messages = await readTopic(n.topic);
    assert.equal(messages.length, EVENTS);

    // The previous release: events of even users were dead letters to it.
    // It appended the rows of messages 0..APPENDED-1 to a COMMITTED stream,
    // committed offset COMMITTED, and crashed before its next commit.
    const config = loadBigQueryConfig(["--table", n.table], {});
    const destination = await openDestination(config, {
      api: "storage-write",
      storageEmulator: STORAGE_API,
    });
    let oldRowsBeforeCommit = 0;
    const oldRows: PlayRow[] = [];
    try {
      await destination.createTable();
      const stream = await destination.openStream();
      for (const message of messages.slice(0, APPENDED)) {
        const source = { key: null, value: message.value, offset: message.offset, timestamp: "0" };
        const { row } = decodeMessage(n.topic, 0, source, new Date().toISOString());
        assert.ok(row);
        if (row.user_id % 2 === 0) continue;
        if (Number(message.offset) < COMMITTED) oldRowsBeforeCommit++;
        oldRows.push(row);
      }
      const appended = await stream.append(oldRows, 0);
      assert.equal(appended.status, "ok");
      stream.close();
      assert.ok(stream.name);
      await commitAs(
        n.group,
        n.topic,
        BigInt(COMMITTED),
        formatMarker({ stream: stream.name, row: oldRowsBeforeCommit, version: "0-previous" }),
      );
    } finally {
      destination.close();
    }
    const before = await rowCounts(n.table);
    assert.equal(before.rows, oldRows.length);

    // The current release: every event is valid to it.
    const consumed = await runScript(
      "consume",
      consumerArgs(n, ["--exit-when-idle", "2", "--log-level", "debug"]),
    );
    assert.equal(consumed.code, 0, consumed.stderr);

    // Offsets below the commit: the old release's rows only (its dead letters
    // were published before that commit). From the commit on: every event once.
    const expected = new Set(
      events.filter((event, i) => i >= COMMITTED || Number(event.user_id) % 2 === 1)
        .map((event) => event.event_id),
    );
    const { rows, distinct } = await rowCounts(n.table);
    assert.deepEqual({ rows, distinct }, { rows: expected.size, distinct: expected.size });
    assert.deepEqual(await storedEventIds(n.table), expected);
    assert.match(
      consumed.stderr,
      new RegExp(`decoder version 0-previous, this is ${DECODER_VERSION}`),
    );

    // A clean stop finalized the stream and said so, with this decoder's version.
    const admin = createAdmin(createKafka({ brokers: ["127.0.0.1:9092"], clientId: "tests" }));
    try {
      const committed = (await admin.committed(n.group, n.topic)).get(0);
      assert.equal(committed?.offset, BigInt(EVENTS));
      const marker = parseMarker(committed?.metadata);
      assert.equal(marker?.finalized, true, committed?.metadata ?? "no metadata");
      assert.equal(marker?.version, DECODER_VERSION);
      assert.equal(marker?.askUntil, undefined);
    } finally {
      await admin.close();
    }
  },
});
