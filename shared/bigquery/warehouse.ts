/**
 * BigQuery access: a client for the emulator or for real BigQuery (same code
 * path, chosen by configuration), table creation, streaming inserts that
 * report rejected rows individually, and the queries the tools need.
 *
 * In emulator mode the client is always given an explicit pass-through auth
 * client, so no Google library ever looks for cloud credentials or probes a
 * metadata server.
 *
 * Every call has a deadline (`requestTimeoutMs`): the HTTP request is
 * abandoned after it, and the call rejects with an error that
 * {@linkcode isTransientBigQueryError} calls transient, so a hung request is
 * retried by the caller instead of being waited on forever.
 *
 * @module
 */

import { BigQuery, type BigQueryOptions, type Table } from "@google-cloud/bigquery";
import { PassThroughClient } from "google-auth-library";
import type { BigQueryConfig } from "./options.ts";
import { playsTableMetadata } from "../schema.ts";
import { withDeadline } from "./deadline.ts";

export type { BigQuery, Table };

/** A connected client and where it points. */
export interface Warehouse {
  client: BigQuery;
  /** `emulator` or `cloud`. */
  mode: "emulator" | "cloud";
  config: BigQueryConfig;
  /** The plays table. */
  table: Table;
  /** Deadline of one call, in milliseconds. */
  requestTimeoutMs: number;
  /** `maximumBytesBilled` of every query job, when capped. */
  maximumBytesBilled: number | undefined;
}

/** Deadline of one BigQuery call unless {@linkcode WarehouseOptions} say otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Options of {@linkcode openWarehouse}. */
export interface WarehouseOptions {
  /** Deadline of one call, in milliseconds (default {@linkcode DEFAULT_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
  /** `maximumBytesBilled` of every query job {@linkcode query} creates (default: no cap). */
  maximumBytesBilled?: number;
}

/**
 * Creates a client: real BigQuery when `credentials` is set and no emulator
 * host was given, the emulator otherwise.
 */
export function openWarehouse(config: BigQueryConfig, options: WarehouseOptions = {}): Warehouse {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const emulator = config.emulatorHost;
  // `timeout` (per HTTP request) is read by the client's base class, not typed by it.
  const clientOptions: BigQueryOptions & { timeout: number } = emulator === undefined
    ? {
      projectId: config.project,
      keyFilename: config.credentials ?? "",
      timeout: requestTimeoutMs,
    }
    : {
      projectId: config.project,
      apiEndpoint: emulator,
      authClient: new PassThroughClient(),
      timeout: requestTimeoutMs,
    };
  const client = new BigQuery(clientOptions);
  // With BIGQUERY_EMULATOR_HOST in the environment the client takes that
  // value as its base URL, without the API path, and ignores `apiEndpoint`.
  if (emulator !== undefined) client.baseUrl = `${emulator}/bigquery/v2`;
  return {
    client,
    mode: emulator === undefined ? "cloud" : "emulator",
    config,
    table: client.dataset(config.dataset).table(config.table),
    requestTimeoutMs,
    maximumBytesBilled: options.maximumBytesBilled,
  };
}

function hasCode(error: unknown, code: number): boolean {
  return typeof error === "object" && error !== null && "code" in error &&
    error.code === code;
}

/** Creates the dataset and the plays table when missing. */
export async function ensurePlaysTable(warehouse: Warehouse): Promise<void> {
  const ms = warehouse.requestTimeoutMs;
  const dataset = warehouse.client.dataset(warehouse.config.dataset);
  const [datasetExists] = await withDeadline("a dataset lookup", ms, () => dataset.exists());
  if (!datasetExists) {
    try {
      await withDeadline("creating the dataset", ms, () => dataset.create());
    } catch (error) {
      if (!hasCode(error, 409)) throw error; // created concurrently
    }
  }
  const [tableExists] = await withDeadline("a table lookup", ms, () => warehouse.table.exists());
  if (!tableExists) {
    try {
      await withDeadline(
        "creating the table",
        ms,
        () => warehouse.table.create(playsTableMetadata()),
      );
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
 *
 * Rejects after `timeoutMs` (default {@linkcode DEFAULT_REQUEST_TIMEOUT_MS})
 * with a transient error; the rows may or may not have been written then.
 */
export async function insertRows(
  table: Table,
  rows: readonly InsertRow[],
  options: { timeoutMs?: number } = {},
): Promise<RejectedRow[]> {
  if (rows.length === 0) return [];
  const body = JSON.stringify({ rows, skipInvalidRows: true });
  const [response] = await withDeadline(
    "an insertAll request",
    options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    () =>
      table.request({
        method: "POST",
        uri: "/insertAll",
        headers: { "Content-Type": "application/json" },
        body,
      }),
  );
  return rejectedRows(response, rows.length);
}

// Quota errors come as 403 and say to retry with backoff; other 403s do not.
const QUOTA_REASONS = new Set(["rateLimitExceeded", "quotaExceeded"]);
// A failed job has no HTTP status, only reasons; these ones say "try again".
const TRANSIENT_JOB_REASONS = new Set([
  ...QUOTA_REASONS,
  "backendError",
  "internalError",
  "jobBackendError",
  "jobInternalError",
  "jobRateLimitExceeded",
]);

function reasonsOf(error: Record<string, unknown>): string[] {
  const errors = Array.isArray(error.errors) ? error.errors : [];
  return errors.filter(isRecord).map((reason) => String(reason.reason));
}

/**
 * HTTP statuses (and 403 quota errors), failed jobs whose reason says to try
 * again, deadlines and network failures: the errors worth retrying. A job
 * that failed on its SQL (`invalidQuery`, `notFound`) is not.
 */
export function isTransientBigQueryError(error: unknown): boolean {
  if (!isRecord(error)) return true;
  const code = error.code;
  if (typeof code === "number") {
    if (code === 403) return reasonsOf(error).some((reason) => QUOTA_REASONS.has(reason));
    return code === 408 || code === 429 || code >= 500;
  }
  const reasons = reasonsOf(error);
  if (reasons.length > 0) return reasons.some((reason) => TRANSIENT_JOB_REASONS.has(reason));
  // Connection refused/reset, DNS hiccups, timeouts: no HTTP status at all.
  return true;
}

/**
 * Runs a query (or a DDL statement) and returns its rows; rejects when the
 * SQL fails (bad syntax, a missing table) and after the warehouse's deadline.
 * Every job carries the warehouse's `maximumBytesBilled` when it has one.
 *
 * A query job is created and its results read, rather than calling the
 * client's `query()`, which resolves with no rows when the server answers
 * with an error list (as the local emulator does for bad SQL).
 *
 * @example
 * ```ts ignore
 * const rows = await query(warehouse, "SELECT 1 AS one");
 * ```
 */
export function query(
  warehouse: Warehouse,
  sql: string,
  params?: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const ms = warehouse.requestTimeoutMs;
  return withDeadline("a query", ms, async () => {
    const cap = warehouse.maximumBytesBilled;
    const [job] = await warehouse.client.createQueryJob({
      query: sql,
      ...(params === undefined ? {} : { params }),
      ...(cap === undefined ? {} : { maximumBytesBilled: String(cap) }),
    });
    const [rows] = await job.getQueryResults({ timeoutMs: ms });
    return Array.isArray(rows) ? rows.filter(isRecord) : [];
  });
}

/** Fully qualified, quoted name of the plays table for SQL. */
export function playsTableRef(config: BigQueryConfig): string {
  return `\`${config.project}.${config.dataset}.${config.table}\``;
}
