import assert from "node:assert/strict";
import type { InsertRow, Table } from "../../shared/bigquery/warehouse.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";

import "../support/lenient_env.ts";
const { isTransientBigQueryError, openWarehouse, playsTableRef } = await import(
  "../../shared/bigquery/mod.ts"
);
const { insertRows, rejectedRows } = await import("../../shared/bigquery/warehouse.ts");
const { DeadlineExceededError, withDeadline } = await import("../../shared/bigquery/deadline.ts");

const rows: InsertRow[] = ["a", "b", "c"].map((id) => ({
  insertId: id,
  json: { event_id: id },
}));

/** A table whose `request` records its options and then settles with `outcome`. */
function fakeTable(outcome: { response: unknown } | { error: unknown }) {
  const calls: unknown[] = [];
  const table = {
    request: (options: unknown) => {
      calls.push(options);
      return "error" in outcome
        ? Promise.reject(outcome.error)
        : Promise.resolve([outcome.response, {}]);
    },
  } as unknown as Table;
  return { table, calls };
}

/** The warehouse settings of a local BigQuery at `emulatorHost`. */
function emulatorConfig(emulatorHost: string) {
  return loadBigQueryConfig(["--emulator-host", emulatorHost], {});
}

Deno.test("rejectedRows() returns nothing for a response without insertErrors", () => {
  assert.deepEqual(rejectedRows({ kind: "bigquery#tableDataInsertAllResponse" }, 3), []);
  assert.deepEqual(rejectedRows({}, 3), []);
  assert.deepEqual(rejectedRows(undefined, 3), []);
});

Deno.test("rejectedRows() maps insertErrors to row indexes with reasons", () => {
  const response = {
    insertErrors: [
      { index: 2, errors: [{ reason: "invalid", message: "no such field: x." }] },
      {
        index: 0,
        errors: [{ reason: "invalid", message: "bad timestamp" }, { reason: "invalid" }],
      },
    ],
  };
  assert.deepEqual(rejectedRows(response, 3), [
    { index: 2, reason: "invalid: no such field: x." },
    { index: 0, reason: "invalid: bad timestamp; invalid" },
  ]);
});

Deno.test("rejectedRows() reads a missing index as 0", () => {
  assert.deepEqual(rejectedRows({ insertErrors: [{ errors: [{ reason: "invalid" }] }] }, 3), [
    { index: 0, reason: "invalid" },
  ]);
});

Deno.test("rejectedRows() describes a failure without details", () => {
  assert.deepEqual(rejectedRows({ insertErrors: [{ index: 1, errors: [] }] }, 3), [
    { index: 1, reason: "rejected by BigQuery" },
  ]);
  assert.deepEqual(
    rejectedRows({ insertErrors: [{ index: "1", errors: [{ message: "m" }] }] }, 3),
    [
      { index: 1, reason: "invalid: m" },
    ],
  );
});

Deno.test("rejectedRows() reports each row once", () => {
  const response = {
    insertErrors: [
      { index: 1, errors: [{ reason: "invalid", message: "first" }] },
      { index: 1, errors: [{ reason: "invalid", message: "second" }] },
    ],
  };
  assert.equal(rejectedRows(response, 3).length, 1);
});

Deno.test("rejectedRows() refuses a response where rows were only stopped", () => {
  // A stopped row was not stored: the request must not count as written.
  const allStopped = {
    insertErrors: [0, 1, 2].map((index) => ({ index, errors: [{ reason: "stopped" }] })),
  };
  assert.throws(() => rejectedRows(allStopped, 3), {
    message: "Cannot trust the insertAll response: row 0 was stopped, not written",
  });
  const mixed = {
    insertErrors: [
      { index: 0, errors: [{ reason: "invalid", message: "bad" }] },
      { index: 1, errors: [{ reason: "stopped" }] },
    ],
  };
  assert.throws(() => rejectedRows(mixed, 3), { message: /row 1 was stopped, not written$/ });
});

Deno.test("rejectedRows() refuses a response it cannot map to the request", () => {
  for (const index of [3, -1, 1.5, "x"]) {
    assert.throws(() => rejectedRows({ insertErrors: [{ index, errors: [] }] }, 3), {
      message: `Cannot read the insertAll response: row index ${
        JSON.stringify(index)
      } is outside the 3 rows sent`,
    });
  }
  assert.throws(() => rejectedRows({ insertErrors: "oops" }, 3), {
    message: "Cannot read the insertAll response: 'insertErrors' is not a list",
  });
});

Deno.test("insertRows() streams the rows in one insertAll request, skipping invalid ones", async () => {
  const { table, calls } = fakeTable({ response: { kind: "bigquery#tableDataInsertAllResponse" } });
  assert.deepEqual(await insertRows(table, rows), []);
  assert.deepEqual(calls, [{
    method: "POST",
    uri: "/insertAll",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ rows, skipInvalidRows: true }),
  }]);
});

Deno.test("insertRows() resolves with the rows BigQuery rejected", async () => {
  const { table } = fakeTable({
    response: { insertErrors: [{ index: 1, errors: [{ reason: "invalid", message: "bad" }] }] },
  });
  assert.deepEqual(await insertRows(table, rows), [{ index: 1, reason: "invalid: bad" }]);
});

Deno.test("insertRows() throws when the request failed or cannot be trusted", async () => {
  const down = Object.assign(new Error("Service Unavailable"), { code: 503 });
  await assert.rejects(insertRows(fakeTable({ error: down }).table, rows), down);
  const stopped = { insertErrors: [{ index: 2, errors: [{ reason: "stopped" }] }] };
  await assert.rejects(insertRows(fakeTable({ response: stopped }).table, rows), /was stopped/);
});

Deno.test("insertRows() sends nothing for no rows", async () => {
  const { table, calls } = fakeTable({ response: {} });
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
  const config = loadBigQueryConfig(
    ["--project", "my-project", "--dataset", "music", "--table", "plays"],
    {},
  );
  assert.equal(playsTableRef(config), "`my-project.music.plays`");
});

Deno.test("isTransientBigQueryError() does not retry a job that failed on its SQL", () => {
  // A failed query job carries reasons but no HTTP status.
  for (const reason of ["invalidQuery", "notFound", "invalid", "accessDenied"]) {
    assert.equal(isTransientBigQueryError({ errors: [{ reason, message: "x" }] }), false, reason);
  }
  for (const reason of ["backendError", "internalError", "jobRateLimitExceeded"]) {
    assert.equal(isTransientBigQueryError({ errors: [{ reason, message: "x" }] }), true, reason);
  }
});

Deno.test("withDeadline() settles like the call, or rejects at the deadline and aborts it", async () => {
  assert.equal(await withDeadline("a call", 1_000, () => Promise.resolve("done")), "done");
  await assert.rejects(withDeadline("a call", 1_000, () => Promise.reject(new Error("no"))), {
    message: "no",
  });
  let aborted = false;
  const started = Date.now();
  const error = await withDeadline("a hung call", 50, (signal) => {
    signal.addEventListener("abort", () => (aborted = true));
    return new Promise<never>(() => {});
  }).catch((error: unknown) => error);
  assert.ok(error instanceof DeadlineExceededError);
  assert.equal(error.message, "Cannot finish a hung call: no answer from BigQuery within 50 ms");
  assert.equal(isTransientBigQueryError(error), true);
  assert.ok(aborted, "the call's signal aborted");
  assert.ok(Date.now() - started < 1_000);
  assert.throws(() => withDeadline("a call", 0, () => Promise.resolve(1)), RangeError);
});

Deno.test("openWarehouse() keeps the API path when BIGQUERY_EMULATOR_HOST is set", () => {
  // Given that variable, the client takes it as its base URL, without the
  // API path, which only some emulators serve.
  const saved = Deno.env.get("BIGQUERY_EMULATOR_HOST");
  try {
    Deno.env.set("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9999");
    const warehouse = openWarehouse(emulatorConfig("http://127.0.0.1:9999"));
    assert.equal(warehouse.client.baseUrl, "http://127.0.0.1:9999/bigquery/v2");
  } finally {
    if (saved === undefined) Deno.env.delete("BIGQUERY_EMULATOR_HOST");
    else Deno.env.set("BIGQUERY_EMULATOR_HOST", saved);
  }
});

Deno.test("schemaProblem() says why rows of the plays table do not fit a table", async () => {
  const { schemaProblem } = await import("../../shared/bigquery/destination.ts");
  const { PLAYS_COLUMNS } = await import("../../shared/schema.ts");
  const fields = (change: (f: Record<string, unknown>[]) => void) => {
    const list: Record<string, unknown>[] = PLAYS_COLUMNS.map((column) => ({ ...column }));
    change(list);
    return list;
  };
  assert.equal(schemaProblem(fields(() => {})), undefined);
  // BigQuery's legacy type names are the same types.
  assert.equal(
    schemaProblem(fields((f) => f.forEach((c) => c.type === "INT64" && (c.type = "INTEGER")))),
    undefined,
  );
  assert.equal(
    schemaProblem(fields((f) => f.splice(9, 1))),
    "column 'kafka_offset' is missing",
  );
  assert.equal(
    schemaProblem(fields((f) => f.push({ name: "country", type: "STRING", mode: "REQUIRED" }))),
    "column 'country' is REQUIRED but the rows do not have it",
  );
  assert.equal(
    schemaProblem(fields((f) => f.push({ name: "note", type: "STRING", mode: "NULLABLE" }))),
    undefined,
  );
  assert.match(String(schemaProblem(undefined)), /^column 'event_id' is missing/);
});

Deno.test("insertAllFailure() maps a failed insertAll request to the Storage Write statuses", async () => {
  const { insertAllFailure } = await import("../../shared/bigquery/destination.ts");
  const failed = (error: unknown) => {
    const result = insertAllFailure(error);
    assert.equal(result.status, "failed");
    return result.status === "failed" ? [result.code, result.retryable] : [];
  };
  assert.deepEqual(failed({ code: 404, message: "Not found: Table p:d.t" }), [5, false]);
  assert.deepEqual(failed({ code: 401, message: "Login required" }), [16, false]);
  assert.deepEqual(
    failed({ code: 403, errors: [{ reason: "accessDenied" }], message: "Access Denied" }),
    [7, false],
  );
  assert.deepEqual(
    failed({ code: 403, errors: [{ reason: "quotaExceeded" }], message: "Quota" }),
    [8, true],
  );
  assert.deepEqual(failed({ code: 400, message: "Invalid request" }), [3, false]);
  assert.deepEqual(failed({ code: 503, message: "Backend error" }), [14, true]);
  assert.deepEqual(failed(new Error("socket hang up")), [14, true]);
});
