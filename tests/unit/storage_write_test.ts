// The Storage Write module's pure parts: answers mapped to results, retry classes, rows.
import assert from "node:assert/strict";
import {
  appendResult,
  isTransientStorageError,
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
