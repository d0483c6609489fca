// The Storage Write module's pure parts: answers mapped to results, retry classes, rows.
import assert from "node:assert/strict";
import {
  appendResult,
  GrpcStatus,
  isTransientStorageError,
  StorageErrorCode,
  storageRow,
} from "../../shared/bigquery/storage_write.ts";

Deno.test("appendResult() maps BigQuery's answers to results", () => {
  assert.deepEqual(appendResult({ appendResult: { offset: { value: 5 } } }, 5, 2), {
    status: "ok",
    offset: 5,
    rows: 2,
  });
  assert.deepEqual(appendResult({ error: { code: 0 } }, 0, 1), {
    status: "ok",
    offset: 0,
    rows: 1,
  });
  assert.deepEqual(appendResult({ error: { code: 6, message: "exists" } }, 0, 1), {
    status: "already-exists",
    message: "exists",
  });
  assert.deepEqual(appendResult({ error: { code: 11, message: "gap" } }, 9, 1), {
    status: "out-of-range",
    message: "gap",
  });
  assert.deepEqual(
    appendResult(
      {
        error: { code: 3, message: "bad rows" },
        rowErrors: [{ index: 1, code: 1, message: "bad timestamp" }, { index: 0 }],
      },
      0,
      2,
    ),
    {
      status: "rows-refused",
      rows: [{ index: 1, reason: "bad timestamp" }, { index: 0, reason: "bad rows" }],
      message: "bad rows",
    },
  );
  assert.deepEqual(appendResult({ error: { code: 9, message: "finalized" } }, 0, 1), {
    status: "failed",
    code: 9,
    message: "finalized",
    retryable: false,
    finalized: true,
  });
  assert.deepEqual(appendResult({ error: { code: 14, message: "busy" } }, 0, 1), {
    status: "failed",
    code: 14,
    message: "busy",
    retryable: true,
  });
});

Deno.test("isTransientStorageError() retries no-answer and busy errors only", () => {
  for (const code of [1, 4, 8, 10, 13, 14]) assert.equal(isTransientStorageError({ code }), true);
  for (const code of [3, 5, 6, 7, 9, 11, 16]) {
    assert.equal(isTransientStorageError({ code }), false);
  }
  assert.equal(isTransientStorageError(new Error("socket hang up")), true);
});

Deno.test("storageRow() turns the row's timestamps into dates", () => {
  const row = storageRow({
    event_id: "e",
    user_id: 1,
    artist: "a",
    song_id: 2,
    song_name: "s",
    event_type: "song_completed",
    timestamp: "2026-05-06T07:08:09.123Z",
    ingested_at: "2026-05-06T07:08:10.000Z",
    kafka_partition: 0,
    kafka_offset: 7,
  });
  assert.ok(row.timestamp instanceof Date && row.ingested_at instanceof Date);
  assert.equal(row.timestamp.toISOString(), "2026-05-06T07:08:09.123Z");
});

Deno.test("appendResult() reads real BigQuery's StorageError detail before the gRPC code", async () => {
  const { protos } = await import("@google-cloud/bigquery-storage");
  const StorageError = protos.google.cloud.bigquery.storage.v1.StorageError;
  const decode = (bytes: Uint8Array) => StorageError.decode(bytes);
  const answer = (grpc: number, code: number) => ({
    error: {
      code: grpc,
      message: "from BigQuery",
      details: [{
        typeUrl: "type.googleapis.com/google.cloud.bigquery.storage.v1.StorageError",
        value: StorageError.encode({ code, entity: "projects/p/streams/s" }).finish(),
      }],
    },
  });
  // A finalized stream arrives as INVALID_ARGUMENT: not rows refused, a stream to replace.
  assert.deepEqual(appendResult(answer(3, StorageErrorCode.STREAM_FINALIZED), 0, 5, decode), {
    status: "failed",
    code: GrpcStatus.FAILED_PRECONDITION,
    message: "from BigQuery",
    retryable: false,
    finalized: true,
  });
  assert.equal(appendResult(answer(3, StorageErrorCode.STREAM_FINALIZED), 0, 5).status, "failed");
  assert.equal(
    appendResult(answer(5, StorageErrorCode.STREAM_NOT_FOUND), 0, 5, decode).status,
    "failed",
  );
  assert.equal(
    appendResult(answer(3, StorageErrorCode.OFFSET_ALREADY_EXISTS), 0, 5, decode).status,
    "already-exists",
  );
  assert.equal(
    appendResult(answer(3, StorageErrorCode.OFFSET_OUT_OF_RANGE), 0, 5, decode).status,
    "out-of-range",
  );
  // A dropped column under the stream's descriptor: a stream to replace, not rows refused.
  assert.deepEqual(
    appendResult(answer(3, StorageErrorCode.SCHEMA_MISMATCH_EXTRA_FIELDS), 0, 5, decode),
    {
      status: "failed",
      code: GrpcStatus.FAILED_PRECONDITION,
      message: "from BigQuery",
      retryable: false,
    },
  );
  // Anything else: the gRPC code decides, as before.
  assert.deepEqual(
    appendResult({ error: { code: 14, message: "busy", details: [] } }, 0, 5, decode),
    { status: "failed", code: 14, message: "busy", retryable: true },
  );
});

Deno.test("appendResult() says when BigQuery's answer carries an updated schema", () => {
  const updatedSchema = { fields: [{ name: "country", type: "STRING", mode: "NULLABLE" }] };
  assert.deepEqual(
    appendResult({ appendResult: { offset: { value: 0 } }, updatedSchema }, 0, 3),
    { status: "ok", offset: 0, rows: 3, schemaUpdated: true },
  );
  // An empty one is no change.
  assert.deepEqual(
    appendResult({ appendResult: { offset: { value: 0 } }, updatedSchema: { fields: [] } }, 0, 3),
    { status: "ok", offset: 0, rows: 3 },
  );
});

Deno.test("appendResult() tells a finalized stream from other failed preconditions", () => {
  const local = appendResult({ error: { code: 9, message: "Stream is finalized" } }, 0, 1);
  assert.equal(local.status === "failed" && local.finalized, true);
  const other = appendResult({ error: { code: 9, message: "Schema mismatch" } }, 0, 1);
  assert.equal(other.status === "failed" && other.finalized === true, false);
});
