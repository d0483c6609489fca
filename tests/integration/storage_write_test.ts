// The Storage Write API module against the local BigQuery of `deno task up`
// (REST on BIGQUERY_EMULATOR_HOST, default 127.0.0.1:9050; Storage API on
// BIGQUERY_STORAGE_EMULATOR_HOST, default 127.0.0.1:9060), plus its mapping of
// answers to results and its deadlines against a server that never answers.
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import {
  GrpcStatus,
  isTransientStorageError,
  openStorageWriter,
  type StorageRow,
  type StorageWriter,
} from "../../shared/bigquery/storage_write.ts";
import { ensurePlaysTable, openWarehouse } from "../../shared/bigquery/warehouse.ts";
import { startSilentServer } from "../support/silent_server.ts";
import { query, STORAGE_API } from "../support/harness.ts";

const REST = Deno.env.get("BIGQUERY_EMULATOR_HOST") ?? "http://127.0.0.1:9050";

function rows(count: number, firstOffset: number): StorageRow[] {
  const now = new Date();
  return Array.from({ length: count }, (_, i) => ({
    event_id: crypto.randomUUID(),
    user_id: 1 + i,
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: new Date(now.getTime() - i),
    ingested_at: now,
    kafka_partition: 0,
    kafka_offset: firstOffset + i,
  }));
}

/** A fresh plays table and a writer for it; `use` runs with both. */
async function withTable(
  use: (writer: StorageWriter, count: () => Promise<number>) => Promise<void>,
): Promise<void> {
  const table = `storage_${crypto.randomUUID().slice(0, 8)}`;
  const target = { project: "livecharts-local", dataset: "music", table };
  const warehouse = openWarehouse({ ...target, emulatorHost: REST, credentials: undefined });
  await ensurePlaysTable(warehouse);
  const writer = await openStorageWriter(target, { emulator: STORAGE_API, timeoutMs: 10_000 });
  const count = async () => {
    const [row] = await query(
      warehouse,
      `SELECT COUNT(*) AS n FROM \`livecharts-local.music.${table}\``,
    );
    return Number(row?.n);
  };
  try {
    await use(writer, count);
  } finally {
    writer.close();
  }
}

/** A stream name in the table's form that no stream has. */
function unknownStream(writer: StorageWriter): string {
  return `${writer.table}/streams/${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

test({
  name: "storage write: explicit offsets store each row once; finalize tells the row count",
  fn: () =>
    withTable(async (writer, count) => {
      const stream = await writer.createStream();
      assert.ok(stream.startsWith(`${writer.table}/streams/`), stream);
      const found = await writer.getStream(stream);
      assert.ok(
        found.status === "found" && found.name === stream && found.type === "COMMITTED",
        JSON.stringify(found),
      );

      const appender = await writer.openAppender(stream);
      const first = rows(3, 0);
      assert.deepEqual(await appender.append(first, 0), { status: "ok", offset: 0, rows: 3 });
      // A re-send of what is stored (a retry after a lost answer, a re-read) is refused.
      assert.equal((await appender.append(first, 0)).status, "already-exists");
      assert.equal((await appender.append(rows(2, 1), 1)).status, "already-exists");
      // A gap is refused too: rows 3 to 9 were never sent.
      assert.equal((await appender.append(rows(2, 10), 10)).status, "out-of-range");
      assert.deepEqual(await appender.append(rows(2, 3), 3), { status: "ok", offset: 3, rows: 2 });
      assert.equal(await count(), 5, "COMMITTED: rows are visible at once, each once");

      assert.deepEqual(await writer.finalizeStream(stream), { status: "finalized", rowCount: 5 });
      assert.deepEqual(await writer.finalizeStream(stream), { status: "finalized", rowCount: 5 });
      const late = await appender.append(rows(1, 5), 5);
      assert.equal(late.status, "failed");
      assert.ok(
        late.status === "failed" && !late.retryable && late.code === 9,
        JSON.stringify(late),
      );
      appender.close();
      assert.equal(await count(), 5);
    }),
});

test({
  name: "storage write: an unknown stream is a value, not an exception",
  fn: () =>
    withTable(async (writer) => {
      const missing = unknownStream(writer);
      assert.equal((await writer.getStream(missing)).status, "not-found");
      assert.equal((await writer.finalizeStream(missing)).status, "not-found");
      const appender = await writer.openAppender(missing);
      const result = await appender.append(rows(1, 0), 0);
      assert.ok(
        result.status === "failed" && result.code === GrpcStatus.NOT_FOUND && !result.retryable,
        JSON.stringify(result),
      );
      appender.close();
    }),
});

test({
  name: "storage write: three streams append concurrently, several appends in flight each",
  fn: () =>
    withTable(async (writer, count) => {
      const streams = await Promise.all([1, 2, 3].map(() => writer.createStream()));
      assert.equal(new Set(streams).size, 3);
      await Promise.all(streams.map(async (stream) => {
        const appender = await writer.openAppender(stream);
        const results = await Promise.all(
          [0, 1, 2, 3].map((batch) => appender.append(rows(50, batch * 50), batch * 50)),
        );
        assert.deepEqual(results.map((result) => result.status), ["ok", "ok", "ok", "ok"]);
        appender.close();
        assert.deepEqual(await writer.finalizeStream(stream), {
          status: "finalized",
          rowCount: 200,
        });
      }));
      assert.equal(await count(), 600);
    }),
});

test({
  name: "storage write: a PENDING stream checks rows without storing them",
  fn: () =>
    withTable(async (writer, count) => {
      const stream = await writer.createStream("pending");
      const found = await writer.getStream(stream);
      assert.ok(found.status === "found" && found.type === "PENDING", JSON.stringify(found));
      const appender = await writer.openAppender(stream);
      assert.deepEqual(await appender.append(rows(3, 0), 0), { status: "ok", offset: 0, rows: 3 });
      assert.deepEqual(await writer.finalizeStream(stream), { status: "finalized", rowCount: 3 });
      appender.close();
      assert.equal(await count(), 0, "never committed: nothing is visible");
    }),
});

test({
  name: "storage write: every call gives up at its deadline on a server that never answers",
  fn: async () => {
    const server = startSilentServer();
    const target = { project: "livecharts-local", dataset: "music", table: "plays" };
    const writer = await openStorageWriter(target, { emulator: server.address, timeoutMs: 300 });
    try {
      const started = Date.now();
      const error = await writer.createStream().then(() => undefined, (error: unknown) => error);
      assert.ok(error instanceof Error, "createStream() rejected");
      assert.equal(isTransientStorageError(error), true, error.message);
      for (const call of [() => writer.getStream("x"), () => writer.finalizeStream("x")]) {
        await assert.rejects(call(), (error: unknown) => isTransientStorageError(error));
      }
      const appender = await writer.openAppender(`${writer.table}/streams/0123456789abcdef`);
      const result = await appender.append(rows(1, 0), 0);
      assert.ok(result.status === "failed" && result.retryable, JSON.stringify(result));
      // The hung connection was dropped: the next append tries a new one, and gives up too.
      assert.equal((await appender.append(rows(1, 0), 0)).status, "failed");
      appender.close();
      assert.ok(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`);
    } finally {
      writer.close();
      server.close();
    }
  },
});
