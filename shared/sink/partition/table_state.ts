/**
 * The table as every partition writer sees it: lookups that remember its
 * creation time, and one re-creation at a time.
 *
 * @module
 */

import type { Destination } from "../../bigquery/mod.ts";
import { logger } from "../../ops/mod.ts";
import type { TableState } from "./context.ts";

const log = logger("consumer");

/**
 * The table's shared state for `destination`: lookups that remember the
 * table's creation time, and one re-creation at a time, logged once.
 */
export function createTableState(
  destination: Pick<Destination, "checkTable" | "createTable" | "table">,
  options: { createdAt?: number | undefined; onCreated?: () => void } = {},
): TableState {
  let creating: Promise<void> | undefined;
  const state: TableState = {
    createdAt: options.createdAt,
    async check() {
      const check = await destination.checkTable();
      if (check.status === "ok" && check.createdAt !== undefined) state.createdAt = check.createdAt;
      return check;
    },
    recreate() {
      creating ??= (async () => {
        try {
          await destination.createTable();
          const check = await state.check();
          options.onCreated?.();
          log.warn(
            "Table {table} was missing: created it again from the shared schema; rows since each partition's last commit are written into it",
            { table: destination.table, created: check.status === "ok" },
          );
        } finally {
          creating = undefined;
        }
      })();
      return creating;
    },
  };
  return state;
}
