/**
 * The warehouse, and the only folder that imports Google's clients: client
 * creation (the emulator or real credentials), the plays table and queries;
 * the destination the sink writes to, with both write APIs (Storage Write,
 * appends at explicit offsets answered as values; or `insertAll`) behind one
 * interface, plus the table check and creation; every call with a deadline;
 * and the BigQuery options. The Storage Write libraries load only when a
 * destination opens them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BIGQUERY_NAME, WRITE_APIS } from "./mod.ts";
 * assert.ok(BIGQUERY_NAME.test("plays"));
 * assert.deepEqual([...WRITE_APIS], ["storage-write", "insert-all"]);
 * ```
 *
 * @module
 */

export { bytesBilledOptions, DEFAULT_MAX_BYTES_BILLED, parseBytes } from "./bytes_billed.ts";
export { DeadlineExceededError } from "./deadline.ts";
export {
  type Destination,
  type DestinationOptions,
  noRowFits,
  openDestination,
  type RowStream,
  schemaProblem,
  type TableCheck,
} from "./destination.ts";
export {
  BIGQUERY_NAME,
  type BigQueryConfig,
  bigqueryOptions,
  loadBigQueryConfig,
  storageApiOptions,
  WRITE_APIS,
  type WriteApi,
} from "./options.ts";
export { type AppendResult, type FinalizeResult, GrpcStatus } from "./storage_write.ts";
export {
  ensurePlaysTable,
  isTransientBigQueryError,
  openWarehouse,
  playsTableRef,
  query,
  type Warehouse,
} from "./warehouse.ts";
export { queryPages } from "./query_pages.ts";
