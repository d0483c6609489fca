/**
 * A query's answer read a page at a time, for answers too large to hold
 * whole (the dashboard's history of a catalog: about 100 MB of pages at a
 * million songs).
 *
 * The job is created by the client (`createQueryJob`, with the warehouse's
 * `maximumBytesBilled`); its pages are read with the runtime's own `fetch`
 * from BigQuery's REST method `jobs.getQueryResults`, not with the client's
 * `getQueryResults()`. The client's HTTP stack (gaxios over Node's `http` in
 * Deno) spent 1.5 to 1.8 CPU-s reading the two history answers of 1,000,000
 * songs under the dashboard's V8 flags; `fetch` 1.0 to 1.1 CPU-s for the same
 * pages (`bench/README.md`), and the dashboard's start is bound by its own CPU.
 * The request is one GET with the client's own credentials (none against the
 * local BigQuery), so no Google library is bypassed for anything else.
 *
 * Cells are handed over as the REST API sends them: text for every scalar
 * type (numbers too, which callers convert), `null` for NULL.
 *
 * @module
 */

import type { Warehouse } from "./warehouse.ts";
import { withDeadline } from "./deadline.ts";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** A page of a query job's results. */
export interface ResultPage {
  /** Rows, each cell under its column's name. */
  rows: Record<string, unknown>[];
  /** Token of the next page; `undefined` on the last. */
  next: string | undefined;
  /** Rows in the whole answer, when BigQuery says. */
  total: number | undefined;
}

/** An error answer of BigQuery's REST API: its HTTP status and reasons, as the client reports them. */
export interface RestError extends Error {
  code: number;
  errors: { reason: string; message: string }[];
}

/**
 * The error of a REST answer with HTTP status `status` and body `body`
 * (BigQuery's `{"error": {"message", "errors": [{"reason"}]}}` when it is
 * one), shaped like the client's: `code` is the status, `errors` the reasons,
 * so {@linkcode isTransientBigQueryError} judges it the same way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { restError } from "./query_pages.ts";
 * const error = restError(403, {
 *   error: { code: 403, message: "Exceeded rate limits", errors: [{ reason: "rateLimitExceeded", message: "Exceeded rate limits" }] },
 * });
 * assert.equal(error.code, 403);
 * assert.deepEqual(error.errors.map((e) => e.reason), ["rateLimitExceeded"]);
 * assert.equal(error.message, "Cannot read query results: BigQuery answered 403 (rateLimitExceeded): Exceeded rate limits");
 * assert.equal(restError(502, "<html>").message, "Cannot read query results: BigQuery answered 502");
 * ```
 */
export function restError(status: number, body: unknown): RestError {
  const detail = isRecord(body) && isRecord(body.error) ? body.error : {};
  const errors = (Array.isArray(detail.errors) ? detail.errors : []).filter(isRecord).map((
    error,
  ) => ({ reason: String(error.reason ?? ""), message: String(error.message ?? "") }));
  const reasons = errors.map((error) => error.reason).filter((reason) => reason !== "");
  const message = typeof detail.message === "string" ? `: ${detail.message}` : "";
  const error = new Error(
    `Cannot read query results: BigQuery answered ${status}${
      reasons.length > 0 ? ` (${reasons.join(", ")})` : ""
    }${message}`,
  );
  return Object.assign(error, { code: status, errors });
}

/**
 * The rows of a `jobs.getQueryResults` answer, each cell under its column's
 * name; `undefined` when the job is not complete yet (no schema, no rows).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resultRows } from "./query_pages.ts";
 * assert.deepEqual(
 *   resultRows({
 *     jobComplete: true,
 *     schema: { fields: [{ name: "artist" }, { name: "plays" }] },
 *     rows: [{ f: [{ v: "tony-allen" }, { v: "3" }] }, { f: [{ v: null }, { v: "1" }] }],
 *   }),
 *   [{ artist: "tony-allen", plays: "3" }, { artist: null, plays: "1" }],
 * );
 * assert.deepEqual(resultRows({ jobComplete: true, schema: { fields: [{ name: "x" }] } }), []);
 * assert.equal(resultRows({ jobComplete: false }), undefined);
 * assert.throws(() => resultRows({ jobComplete: true, rows: [] }), /has no schema/);
 * assert.throws(
 *   () => resultRows({ jobComplete: true, schema: { fields: [{ name: "x" }] }, rows: [{ f: [] }] }),
 *   /row 0 has 0 cells, expected 1/,
 * );
 * ```
 */
export function resultRows(body: unknown): Record<string, unknown>[] | undefined {
  if (!isRecord(body)) throw new Error("Cannot read query results: the answer is not an object");
  if (body.jobComplete === false) return undefined;
  const fields = isRecord(body.schema) && Array.isArray(body.schema.fields)
    ? body.schema.fields
    : undefined;
  if (fields === undefined) {
    throw new Error("Cannot read query results: the answer has no schema");
  }
  const names = fields.map((field) => (isRecord(field) ? String(field.name) : ""));
  const rows = Array.isArray(body.rows) ? body.rows : [];
  return rows.map((row, index) => {
    const cells = isRecord(row) && Array.isArray(row.f) ? row.f : [];
    if (cells.length !== names.length) {
      throw new Error(
        `Cannot read query results: row ${index} has ${cells.length} cells, expected ${names.length}`,
      );
    }
    const record: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      const cell = cells[i];
      record[names[i]!] = isRecord(cell) ? cell.v ?? null : null;
    }
    return record;
  });
}

/** Where a job's results are read: its project, id and location. */
interface JobRef {
  projectId: string;
  id: string;
  location: string | undefined;
}

/**
 * Reads one page of `job`'s results (from `token`, at most `pageRows`
 * rows), waiting while BigQuery says the job is not complete, within the
 * warehouse's deadline.
 */
async function readPage(
  warehouse: Warehouse,
  job: JobRef,
  token: string | undefined,
  pageRows: number,
): Promise<ResultPage> {
  const ms = warehouse.requestTimeoutMs;
  const url = new URL(
    `${warehouse.client.baseUrl}/projects/${encodeURIComponent(job.projectId)}/queries/${
      encodeURIComponent(job.id)
    }`,
  );
  url.searchParams.set("maxResults", String(pageRows));
  // BigQuery waits up to `timeoutMs` for the job to complete: half the deadline, so an
  // answer saying "not complete" comes back in time to ask again.
  url.searchParams.set("timeoutMs", String(Math.max(1, Math.floor(ms / 2))));
  if (token !== undefined) url.searchParams.set("pageToken", token);
  if (job.location !== undefined) url.searchParams.set("location", job.location);
  return await withDeadline("a page of query results", ms, async (signal) => {
    const headers = warehouse.mode === "cloud"
      ? await warehouse.client.authClient.getRequestHeaders(url.href)
      : new Headers();
    for (;;) {
      const response = await fetch(url, { headers, signal });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      if (!response.ok) throw restError(response.status, body);
      const rows = resultRows(body);
      if (rows === undefined) {
        // Not complete: BigQuery waited up to `timeoutMs` already; a pause
        // before asking again, in case an answer came back sooner.
        await new Promise((resolve) => setTimeout(resolve, Math.min(500, ms / 10)));
        continue;
      }
      const next = isRecord(body) && typeof body.pageToken === "string" && body.pageToken !== ""
        ? body.pageToken
        : undefined;
      const total = Number(isRecord(body) ? body.totalRows : undefined);
      return { rows, next, total: Number.isSafeInteger(total) && total >= 0 ? total : undefined };
    }
  });
}

/**
 * Runs a query like {@linkcode query} and hands its rows to `onPage` a page
 * (at most `pageRows`, default 20,000) at a time, so a large answer is never
 * held whole (at most two pages: the next is asked for while `onPage` reads
 * one), with the answer's row count when BigQuery tells it. Cells are the
 * REST API's text (see the module's note). The deadline applies to the job
 * and to each page.
 *
 * @example
 * ```ts ignore
 * let rows = 0;
 * await queryPages(warehouse, "SELECT x FROM UNNEST(GENERATE_ARRAY(1, 50000)) AS x", (page) => {
 *   rows += page.length;
 * });
 * ```
 */
export async function queryPages(
  warehouse: Warehouse,
  sql: string,
  onPage: (rows: Record<string, unknown>[], totalRows: number | undefined) => void,
  options: { pageRows?: number } = {},
): Promise<void> {
  const ms = warehouse.requestTimeoutMs;
  const cap = warehouse.maximumBytesBilled;
  const [job] = await withDeadline("a query", ms, () =>
    warehouse.client.createQueryJob({
      query: sql,
      ...(cap === undefined ? {} : { maximumBytesBilled: String(cap) }),
    }));
  if (job.id === undefined) throw new Error("Cannot read query results: the job has no id");
  const ref: JobRef = {
    projectId: warehouse.client.projectId,
    id: job.id,
    location: job.location,
  };
  const pageRows = options.pageRows ?? 20_000;
  // The next page is asked for before this one is handed over, so BigQuery
  // prepares it while the caller reads this one.
  let pending: Promise<ResultPage> | undefined = readPage(warehouse, ref, undefined, pageRows);
  while (pending !== undefined) {
    const page: ResultPage = await pending;
    pending = page.next === undefined ? undefined : readPage(warehouse, ref, page.next, pageRows);
    try {
      onPage(page.rows, page.total);
    } catch (error) {
      pending?.catch(() => {}); // its answer is not wanted any more
      throw error;
    }
  }
}
