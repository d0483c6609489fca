import assert from "node:assert/strict";
import type { InsertRow, Table } from "../shared/bigquery.ts";
import { loadConfig } from "../shared/config.ts";

// The Google client libraries read their logging switches from the
// environment when loaded. Unit tests run without permissions, so a variable
// that is not granted reads as unset (as in `readEnv()`).
const getEnv = Deno.env.get.bind(Deno.env);
Deno.env.get = (name) => {
  try {
    return getEnv(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
};
const { insertRows, isTransientBigQueryError, playsTableRef, rejectedRows } = await import(
  "../shared/bigquery.ts"
);

const rows: InsertRow[] = ["a", "b", "c"].map((id) => ({
  insertId: id,
  json: { event_id: id },
}));

/** An error shaped like @google-cloud/common's PartialFailureError. */
function partialFailure(
  failures: Array<{ row: unknown; errors: unknown }>,
): Error & { errors: unknown[] } {
  const error = new Error("A failure occurred during this request.") as Error & {
    errors: unknown[];
  };
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
  assert.deepEqual(
    rejectedRows(partialFailure([{ row: rows[1], errors: [{ message: "m" }] }]), rows),
    [
      { index: 1, reason: "invalid: m" },
    ],
  );
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
  assert.equal(
    rejectedRows(Object.assign(new Error("x"), { code: 500, errors: [] }), rows),
    undefined,
  );
  assert.equal(rejectedRows({ name: "PartialFailureError" }, rows), undefined);
  assert.equal(rejectedRows("PartialFailureError", rows), undefined);
  assert.equal(rejectedRows(null, rows), undefined);
});

/** A table whose `insert` records its arguments and then settles with `outcome`. */
function fakeTable(outcome: unknown) {
  const calls: unknown[][] = [];
  const table = {
    insert: (...args: unknown[]) => {
      calls.push(args);
      return outcome === undefined ? Promise.resolve([{}]) : Promise.reject(outcome);
    },
  } as unknown as Table;
  return { table, calls };
}

Deno.test("insertRows() streams raw rows, skipping invalid ones", async () => {
  const { table, calls } = fakeTable(undefined);
  assert.deepEqual(await insertRows(table, rows), []);
  assert.deepEqual(calls, [[rows, { raw: true, skipInvalidRows: true }]]);
});

Deno.test("insertRows() resolves with the rows BigQuery rejected", async () => {
  const { table } = fakeTable(
    partialFailure([{ row: rows[1], errors: [{ reason: "invalid", message: "bad" }] }]),
  );
  assert.deepEqual(await insertRows(table, rows), [{ index: 1, reason: "invalid: bad" }]);
});

Deno.test("insertRows() throws when the request as a whole failed", async () => {
  const down = Object.assign(new Error("Service Unavailable"), { code: 503 });
  await assert.rejects(insertRows(fakeTable(down).table, rows), down);
  const stopped = partialFailure(rows.map((row) => ({ row, errors: [{ reason: "stopped" }] })));
  await assert.rejects(insertRows(fakeTable(stopped).table, rows), stopped);
});

Deno.test("insertRows() sends nothing for no rows", async () => {
  const { table, calls } = fakeTable(undefined);
  assert.deepEqual(await insertRows(table, []), []);
  assert.equal(calls.length, 0);
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
  const config = loadConfig(
    ["--project", "my-project", "--dataset", "music", "--table", "plays"],
    {},
  );
  assert.equal(playsTableRef(config), "`my-project.music.plays`");
});
