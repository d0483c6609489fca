/**
 * The consumer's first step: make sure the plays table can take rows before
 * anything is read. A missing table is created (when allowed); a table
 * BigQuery refuses access to, or a missing one that may not be created,
 * leaves the consumer blocked — `/healthz` 503, one ERROR line a minute —
 * until it is fixed; a BigQuery that does not answer yet is waited for.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { backoffDelay, logger, sleep } from "../ops/mod.ts";
import type { Destination } from "../bigquery/mod.ts";
import type { Blocked, TableState } from "./partition/mod.ts";

const log = logger("consumer");

/** Options of {@linkcode waitForTable}. */
export interface WaitForTableOptions {
  destination: Pick<Destination, "isTransient" | "createTable" | "table">;
  table: TableState;
  /** Whether the table may be created. */
  createTable: boolean;
  /** Gives up (resolves false). */
  signal: AbortSignal;
  /** The consumer is blocked for a problem, or no longer (undefined). */
  onBlocked?: (problem: Blocked | undefined) => void;
  /** Longest wait between two looks while blocked (default 15 s). */
  maxWaitMs?: number;
}

/**
 * Resolves true once the table exists and may be written (creating it when
 * missing and allowed), false when `signal` aborted first. Warns when its
 * schema does not fit the rows: rows it refuses will say more.
 */
export async function waitForTable(options: WaitForTableOptions): Promise<boolean> {
  const { destination, table, signal } = options;
  let lastError = -Infinity;
  let shown: string | undefined;
  for (let attempt = 1; !signal.aborted; attempt++) {
    let problem: Blocked | undefined;
    try {
      const found = await table.check();
      if (found.status === "ok") {
        if (shown !== undefined) log.info("BigQuery takes rows again: starting");
        options.onBlocked?.(undefined);
        if (found.schemaProblem !== undefined) {
          log.warn(
            "The schema of {table} does not fit the rows ({problem}): rows it refuses go to the dead-letter topic, and if it refuses every row the consumer waits",
            { table: destination.table, problem: found.schemaProblem },
          );
        }
        return true;
      }
      if (found.status === "missing" && options.createTable) {
        await destination.createTable();
        await table.check();
        log.info("Created table {table} from the shared schema", { table: destination.table });
        continue;
      }
      problem = {
        reason: found.status === "missing"
          ? "table-missing"
          : found.status === "denied"
          ? "permission-denied"
          : "refused",
        detail: found.status === "missing" && !options.createTable
          ? `${found.message} (table creation is off: --create-table=false)`
          : found.message,
      };
    } catch (error) {
      if (!destination.isTransient(error)) {
        problem = { reason: "refused", detail: errorMessage(error) };
      } else {
        const delayMs = backoffDelay(attempt);
        log.warn("BigQuery not ready ({error}); retrying in {delayMs} ms", {
          error: errorMessage(error),
          attempt,
          delayMs,
        });
        await sleep(delayMs, signal);
        continue;
      }
    }
    options.onBlocked?.(problem);
    if (shown !== problem.reason || Date.now() - lastError >= 60_000) {
      log.error(
        "Cannot write to BigQuery ({reason}): {detail}. Nothing is read until it works; retrying",
        { reason: problem.reason, detail: problem.detail },
      );
      lastError = Date.now();
      shown = problem.reason;
    }
    await sleep(
      backoffDelay(attempt, { initialMs: 1_000, maxMs: options.maxWaitMs ?? 15_000 }),
      signal,
    );
  }
  return false;
}
