// The dashboard's options.

import assert from "node:assert/strict";
import { bigqueryOptions } from "../../shared/bigquery/options.ts";
import { parseOptions } from "../../shared/cli/options.ts";
import { dashboardOptions } from "../../shared/live/options.ts";
import { dashboardNames } from "../support/dashboard.ts";

type Names = ReturnType<typeof dashboardNames>;

Deno.test("dashboard options: full-table reconciliation is off by default with real BigQuery", () => {
  const table = { ...bigqueryOptions, ...dashboardOptions };
  const local = parseOptions(table, [], {});
  assert.deepEqual([local.reconcileApi, local.reconcileEvery], [true, 60_000]);
  const cloud = parseOptions(table, ["--credentials", "/etc/key.json"], {});
  assert.deepEqual([cloud.reconcileApi, cloud.reconcileEvery], [false, 0]);
  const asked = parseOptions(table, ["--credentials", "/etc/key.json", "--reconcile-api", "true"], {
    DASHBOARD_RECONCILE_MIN_INTERVAL: "15m",
  });
  assert.deepEqual([asked.reconcileApi, asked.reconcileMinInterval], [true, 900_000]);
  assert.deepEqual([local.reanchorEvery, local.dedupHorizon], [3_600_000, 600_000]);
});
