import assert from "node:assert/strict";
import {
  type InsertRow,
  isTransientBigQueryError,
  playsTableRef,
  rejectedRows,
} from "../shared/bigquery.ts";
import { loadConfig } from "../shared/config.ts";

const rows: InsertRow[] = ["a", "b", "c"].map((id) => ({
  insertId: id,
  json: { event_id: id },
}));

/** An error shaped like @google-cloud/common's PartialFailureError. */
function partialFailure(
  failures: Array<{ row: unknown; errors: unknown }>,
): Error & { errors: unknown[] } {
  const error = new Error("A failure occurred during this request.") as Error & { errors: unknown[] };
  error.name = "PartialFailureError";
  error.errors = failures;
  return error;
}

Deno.test("rejectedRows() maps failures back to row indexes with reasons", () => {
  const error = partialFailure([
    { row: rows[2], errors: [{ reason: "invalid", message: "no such field: x" }] },
    {
      row: rows[0],
      errors: [{ reason: "invalid", message: "bad timestamp" }, { reason: "invalid" }],
    },
  ]);
  assert.deepEqual(rejectedRows(error, rows), [
    { index: 2, reason: "invalid: no such field: x" },
    { index: 0, reason: "invalid: bad timestamp; invalid" },
  ]);
});

Deno.test("rejectedRows() describes a failure without details", () => {
  assert.deepEqual(rejectedRows(partialFailure([{ row: rows[1], errors: [] }]), rows), [
    { index: 1, reason: "rejected by BigQuery" },
  ]);
  assert.deepEqual(rejectedRows(partialFailure([{ row: rows[1], errors: [{ message: "m" }] }]), rows), [
    { index: 1, reason: "invalid: m" },
  ]);
});

Deno.test("rejectedRows() returns undefined when every row was only stopped", () => {
  const error = partialFailure(
    rows.map((row) => ({ row, errors: [{ reason: "stopped", message: "" }] })),
  );
  assert.equal(rejectedRows(error, rows), undefined);
});

Deno.test("rejectedRows() never reports a stopped row as written", () => {
  // A stopped row was not stored: the request must be retried, not acknowledged.
  const error = partialFailure([
    { row: rows[0], errors: [{ reason: "invalid", message: "bad" }] },
    { row: rows[1], errors: [{ reason: "stopped" }] },
  ]);
  assert.equal(rejectedRows(error, rows), undefined);
});

Deno.test("rejectedRows() ignores failures of rows it did not send", () => {
  const error = partialFailure([
    { row: { insertId: "zzz", json: {} }, errors: [{ reason: "invalid" }] },
    { row: "not a row", errors: [] },
    { row: rows[1], errors: [{ reason: "invalid" }] },
  ]);
  assert.deepEqual(rejectedRows(error, rows), [{ index: 1, reason: "invalid" }]);
});

Deno.test("rejectedRows() returns undefined for other errors", () => {
  assert.equal(rejectedRows(new Error("socket hang up"), rows), undefined);
  assert.equal(rejectedRows(Object.assign(new Error("x"), { code: 500, errors: [] }), rows), undefined);
  assert.equal(rejectedRows({ name: "PartialFailureError" }, rows), undefined);
  assert.equal(rejectedRows("PartialFailureError", rows), undefined);
  assert.equal(rejectedRows(null, rows), undefined);
});

Deno.test("isTransientBigQueryError() retries timeouts, throttling and server errors", () => {
  for (const code of [408, 429, 500, 502, 503, 504]) {
    assert.equal(isTransientBigQueryError({ code, message: "x" }), true, String(code));
  }
});

Deno.test("isTransientBigQueryError() does not retry client errors", () => {
  for (const code of [400, 401, 404, 409, 413]) {
    assert.equal(isTransientBigQueryError({ code, message: "x" }), false, String(code));
  }
  assert.equal(
    isTransientBigQueryError({ code: 403, errors: [{ reason: "accessDenied", message: "no" }] }),
    false,
  );
  assert.equal(isTransientBigQueryError({ code: 403 }), false);
});

Deno.test("isTransientBigQueryError() retries 403 quota errors", () => {
  for (const reason of ["rateLimitExceeded", "quotaExceeded"]) {
    const error = Object.assign(new Error("Exceeded rate limits"), {
      code: 403,
      errors: [{ domain: "global", reason, message: "Exceeded rate limits" }],
    });
    assert.equal(isTransientBigQueryError(error), true, reason);
  }
});

Deno.test("isTransientBigQueryError() retries network failures without a status", () => {
  assert.equal(isTransientBigQueryError(new Error("connect ECONNREFUSED 127.0.0.1:9050")), true);
  assert.equal(isTransientBigQueryError({ code: "ECONNRESET" }), true);
  assert.equal(isTransientBigQueryError("timeout"), true);
  assert.equal(isTransientBigQueryError(undefined), true);
});

Deno.test("playsTableRef() quotes the fully qualified table name", () => {
  const config = loadConfig(["--project", "my-project", "--dataset", "music", "--table", "plays"], {});
  assert.equal(playsTableRef(config), "`my-project.music.plays`");
});
