/**
 * BigQuery access: a client for the emulator or for real BigQuery (same code
 * path, chosen by configuration), table creation, streaming inserts that
 * report rejected rows individually, and the queries the tools need.
 *
 * In emulator mode the client is always given an explicit pass-through auth
 * client, so no Google library ever looks for cloud credentials or probes a
 * metadata server.
 *
 * @module
 */

import { BigQuery, type Table } from "@google-cloud/bigquery";
import { PassThroughClient } from "google-auth-library";
import type { BigQueryConfig } from "./config.ts";
import { playsTableMetadata } from "./schema.ts";

export type { BigQuery, Table };

/** A connected client and where it points. */
export interface Warehouse {
  client: BigQuery;
  /** `emulator` or `cloud`. */
  mode: "emulator" | "cloud";
  config: BigQueryConfig;
  /** The plays table. */
  table: Table;
}

/**
 * Creates a client: real BigQuery when `credentials` is set and no emulator
 * host was given, the emulator otherwise.
 */
export function openWarehouse(config: BigQueryConfig): Warehouse {
  const emulator = config.emulatorHost;
  const client = emulator === undefined
    ? new BigQuery({ projectId: config.project, keyFilename: config.credentials ?? "" })
    : new BigQuery({
      projectId: config.project,
      apiEndpoint: emulator,
      authClient: new PassThroughClient(),
    });
  return {
    client,
    mode: emulator === undefined ? "cloud" : "emulator",
    config,
    table: client.dataset(config.dataset).table(config.table),
  };
}

function hasCode(error: unknown, code: number): boolean {
  return typeof error === "object" && error !== null && "code" in error &&
    error.code === code;
}

/** Creates the dataset and the plays table when missing. */
export async function ensurePlaysTable(warehouse: Warehouse): Promise<void> {
  const dataset = warehouse.client.dataset(warehouse.config.dataset);
  const [datasetExists] = await dataset.exists();
  if (!datasetExists) {
    try {
      await dataset.create();
    } catch (error) {
      if (!hasCode(error, 409)) throw error; // created concurrently
    }
  }
  const [tableExists] = await warehouse.table.exists();
  if (!tableExists) {
    try {
      await warehouse.table.create(playsTableMetadata());
    } catch (error) {
      if (!hasCode(error, 409)) throw error;
    }
  }
}

/** A row to stream, with the id BigQuery may use to drop retried copies. */
export interface InsertRow {
  insertId: string;
  json: Record<string, unknown>;
}

/** A row BigQuery refused, by its index in the request. */
export interface RejectedRow {
  index: number;
  reason: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function describeRowErrors(errors: unknown): string {
  if (!Array.isArray(errors)) return "rejected by BigQuery";
  const parts = errors.filter(isRecord).map((error) => {
    const reason = typeof error.reason === "string" ? error.reason : "invalid";
    const message = typeof error.message === "string" ? error.message : "";
    return message ? `${reason}: ${message}` : reason;
  });
  return parts.length > 0 ? parts.join("; ") : "rejected by BigQuery";
}

/**
 * Extracts the rows refused by BigQuery from a partial-failure error, or
 * `undefined` when `error` is not one (the request as a whole failed).
 * Rows only "stopped" because another row was invalid are not rejected.
 */
export function rejectedRows(
  error: unknown,
  rows: readonly InsertRow[],
): RejectedRow[] | undefined {
  if (!isRecord(error) || error.name !== "PartialFailureError") return undefined;
  const failures = error.errors;
  if (!Array.isArray(failures)) return undefined;
  const index = new Map<string, number>();
  rows.forEach((row, i) => index.set(row.insertId, i));
  const rejected: RejectedRow[] = [];
  for (const failure of failures) {
    if (!isRecord(failure) || !isRecord(failure.row)) continue;
    const id = failure.row.insertId;
    const at = typeof id === "string" ? index.get(id) : undefined;
    if (at === undefined) continue;
    const reasons = Array.isArray(failure.errors) ? failure.errors : [];
    const stoppedOnly = reasons.length > 0 &&
      reasons.every((reason) => isRecord(reason) && reason.reason === "stopped");
    if (stoppedOnly) return undefined; // nothing was written: retry the whole request
    rejected.push({ index: at, reason: describeRowErrors(reasons) });
  }
  return rejected;
}

/**
 * Streams `rows` with `insertAll` (skipping invalid rows, so one bad row does
 * not block the rest). Resolves with the rows BigQuery rejected; throws when
 * the request itself failed (nothing or not everything is known written).
 */
export async function insertRows(
  table: Table,
  rows: readonly InsertRow[],
): Promise<RejectedRow[]> {
  if (rows.length === 0) return [];
  try {
    await table.insert([...rows], { raw: true, skipInvalidRows: true });
    return [];
  } catch (error) {
    const rejected = rejectedRows(error, rows);
    if (rejected === undefined) throw error;
    return rejected;
  }
}

// Quota errors come as 403 and say to retry with backoff; other 403s do not.
const QUOTA_REASONS = new Set(["rateLimitExceeded", "quotaExceeded"]);

/** HTTP statuses (and 403 quota errors) and network failures worth retrying. */
export function isTransientBigQueryError(error: unknown): boolean {
  if (!isRecord(error)) return true;
  const code = error.code;
  if (typeof code === "number") {
    if (code === 403) {
      const reasons = Array.isArray(error.errors) ? error.errors : [];
      return reasons.some((reason) => isRecord(reason) && QUOTA_REASONS.has(String(reason.reason)));
    }
    return code === 408 || code === 429 || code >= 500;
  }
  // Connection refused/reset, DNS hiccups, timeouts: no HTTP status at all.
  return true;
}

/**
 * Runs a query and returns its rows.
 *
 * @example
 * ```ts ignore
 * const rows = await query(warehouse, "SELECT 1 AS one");
 * ```
 */
export async function query(
  warehouse: Warehouse,
  sql: string,
  params?: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const [rows] = await warehouse.client.query(
    params === undefined ? { query: sql } : { query: sql, params },
  );
  return Array.isArray(rows) ? rows.filter(isRecord) : [];
}

/** Fully qualified, quoted name of the plays table for SQL. */
export function playsTableRef(config: BigQueryConfig): string {
  return `\`${config.project}.${config.dataset}.${config.table}\``;
}
