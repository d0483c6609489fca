import assert from "node:assert/strict";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { test } from "../support/integration.ts";
import type { InsertRow } from "../../shared/bigquery/warehouse.ts";
import { startSilentServer } from "../support/silent_server.ts";

import "../support/lenient_env.ts";
const { isTransientBigQueryError, openWarehouse, query } = await import(
  "../../shared/bigquery/mod.ts"
);
const { insertRows } = await import("../../shared/bigquery/warehouse.ts");

const rows: InsertRow[] = ["a", "b", "c"].map((id) => ({
  insertId: id,
  json: { event_id: id },
}));

/** The warehouse settings of a local BigQuery at `emulatorHost`. */
function emulatorConfig(emulatorHost: string) {
  return loadBigQueryConfig(["--emulator-host", emulatorHost], {});
}

test({
  name: "insertRows() and query() give up on a BigQuery that never answers, with a transient error",
  // The client keeps its abandoned sockets in its agent's pool.
  fn: async () => {
    const server = startSilentServer();
    try {
      const warehouse = openWarehouse(emulatorConfig(server.url), { requestTimeoutMs: 300 });
      for (
        const call of [
          () => insertRows(warehouse.table, rows, { timeoutMs: 300 }),
          () => query(warehouse, "SELECT 1 AS one"),
        ]
      ) {
        const started = Date.now();
        const error = await call().then(() => undefined, (error: unknown) => error);
        assert.ok(error !== undefined, "the call rejected");
        assert.equal(isTransientBigQueryError(error), true, String(error));
        assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
      }
    } finally {
      server.close();
    }
  },
});

// Against the local BigQuery of `deno task up` (or BIGQUERY_EMULATOR_HOST).
const LOCAL_BIGQUERY = Deno.env.get("BIGQUERY_EMULATOR_HOST") ?? "http://127.0.0.1:9050";

test({
  name: "query() returns rows, and rejects bad SQL and a missing table (local BigQuery)",
  fn: async () => {
    const warehouse = openWarehouse(emulatorConfig(LOCAL_BIGQUERY));
    assert.deepEqual(await query(warehouse, "SELECT 1 AS one"), [{ one: 1 }]);
    assert.deepEqual(await query(warehouse, "SELECT CONCAT(@s, '!') AS s", { s: "hi" }), [{
      s: "hi!",
    }]);
    const missing = `livecharts-local.music.missing_${crypto.randomUUID().slice(0, 8)}`;
    for (const sql of ["SELEC 1", `SELECT COUNT(*) AS n FROM \`${missing}\``]) {
      const error = await query(warehouse, sql).then(() => undefined, (error: unknown) => error);
      assert.ok(error instanceof Error, `${sql} rejected`);
      assert.equal(isTransientBigQueryError(error), false, `${sql}: ${error.message}`);
    }
  },
});
