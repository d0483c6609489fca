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
import type { BigQueryConfig } from "../cli/mod.ts";
import { playsTableMetadata } from "../schema.ts";

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
 * Reads the rows BigQuery refused from an `insertAll` response body.
 *
 * A missing `index` means 0 (some servers omit zero values). Throws when the
 * response cannot be mapped to the request, or when rows were only "stopped"
 * (not written because of another row): the caller must not count such a
 * request as written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rejectedRows } from "./warehouse.ts";
 * const rejected = rejectedRows({
 *   insertErrors: [{ index: 1, errors: [{ reason: "invalid", message: "no such field: x." }] }],
 * }, 2);
 * assert.deepEqual(rejected, [{ index: 1, reason: "invalid: no such field: x." }]);
 * ```
 */
export function rejectedRows(response: unknown, count: number): RejectedRow[] {
  const failures = isRecord(response) ? response.insertErrors : undefined;
  if (failures === undefined) return [];
  if (!Array.isArray(failures)) {
    throw new Error("Cannot read the insertAll response: 'insertErrors' is not a list");
  }
  const rejected = new Map<number, string>();
  for (const failure of failures) {
    if (!isRecord(failure)) continue;
    const index = failure.index === undefined ? 0 : Number(failure.index);
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new Error(
        `Cannot read the insertAll response: row index ${
          JSON.stringify(failure.index)
        } is outside the ${count} rows sent`,
      );
    }
    const reasons = Array.isArray(failure.errors) ? failure.errors : [];
    if (reasons.length > 0 && reasons.every((r) => isRecord(r) && r.reason === "stopped")) {
      throw new Error(`Cannot trust the insertAll response: row ${index} was stopped, not written`);
    }
    rejected.set(index, describeRowErrors(reasons));
  }
  return [...rejected].map(([index, reason]) => ({ index, reason }));
}

/**
 * Streams `rows` with one `insertAll` request, skipping invalid rows so one
 * bad row does not block the rest. Resolves with the rows BigQuery refused;
 * throws when the request failed (then nothing is known to be written).
 *
 * The request is made directly rather than through the client's `insert()`,
 * which maps errors by an index some servers omit and re-sends refused rows.
 * Its body is serialized here, once: given a `json` object, the client would
 * deep-copy it and walk every value of every row for `{{projectId}}`
 * placeholders (rewriting such text inside row values), which costs more CPU
 * and garbage than the request itself.
 */
export async function insertRows(
  table: Table,
  rows: readonly InsertRow[],
): Promise<RejectedRow[]> {
  if (rows.length === 0) return [];
  const [response] = await table.request({
    method: "POST",
    uri: "/insertAll",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ rows, skipInvalidRows: true }),
  });
  return rejectedRows(response, rows.length);
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
