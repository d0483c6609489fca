/**
 * The plays table as the consumer writes to it, behind one interface for
 * both write APIs:
 * - `storage-write` (the default): the Storage Write API, one COMMITTED
 *   write stream at a time per caller, appends at explicit offsets, streams
 *   finalized to learn exactly how many rows they hold: the ground for
 *   exactly-once delivery;
 * - `insert-all`: the legacy streaming API (at least once), for places
 *   without the Storage Write API.
 *
 * Besides writing, a destination answers what the consumer needs when a
 * write fails: is the table there, may we use it, does its schema fit the
 * rows ({@linkcode checkTable}), and it creates the table again when allowed.
 * Row-level refusals are values ({@linkcode AppendResult}), never
 * exceptions; calls that cannot be answered reject, and
 * {@linkcode Destination.isTransient} says whether to retry them.
 *
 * @module
 */

import {
  type Column,
  type ColumnType,
  type PlayRow,
  PLAYS_COLUMNS,
  playsTableMetadata,
  type SchemaEvolution,
} from "../schema.ts";
import type { BigQueryConfig, WriteApi } from "./options.ts";
import {
  type AppendResult,
  columnValue,
  type FinalizeResult,
  GrpcStatus,
  isTransientStorageError,
  openStorageWriter,
  type StorageWriter,
} from "./storage_write.ts";
import {
  insertRows,
  isTransientBigQueryError,
  openWarehouse,
  playsTableRef,
  query,
  type Warehouse,
} from "./warehouse.ts";
import { withDeadline } from "./deadline.ts";

/** A place to append rows: a write stream, or the table itself for insertAll. */
export interface RowStream {
  /** The write stream's name; undefined with insertAll, which has no streams. */
  readonly name: string | undefined;
  /**
   * Appends `rows` at row `offset` of the stream (ignored by insertAll).
   * With insertAll an `ok` may list `refused` rows: those were not stored,
   * all the others were.
   */
  append(rows: readonly PlayRow[], offset: number): Promise<AppendResult>;
  /** Closes the connection (appends in flight resolve as retryable failures). */
  close(): void;
}

/** What {@linkcode Destination.checkTable} found. */
export type TableCheck =
  /** The table is there; `schemaProblem` says why rows may not fit it. */
  | { status: "ok"; createdAt: number | undefined; schemaProblem: string | undefined }
  /** The table (or its dataset) does not exist. */
  | { status: "missing"; message: string }
  /** BigQuery refuses access (401, 403 other than quota). */
  | { status: "denied"; message: string }
  /** BigQuery refused the lookup for another lasting reason. */
  | { status: "refused"; message: string };

/** The plays table, ready to be written. */
export interface Destination {
  readonly api: WriteApi;
  /** Whether appends land exactly once (write streams with offsets and finalize). */
  readonly exactlyOnce: boolean;
  /** `project.dataset.table`, for people. */
  readonly table: string;
  /** Looks the table up (rejects only when BigQuery gave no lasting answer). */
  checkTable(): Promise<TableCheck>;
  /** Creates the dataset and the table from the shared schema, when missing. */
  createTable(): Promise<void>;
  /**
   * The table's columns as BigQuery has them now (types in their standard
   * SQL names); rejects when the lookup gets no answer or is refused.
   */
  tableColumns(): Promise<Column[]>;
  /**
   * Adds NULLABLE `columns` the table lacks (a column already there is
   * left as it is) and resolves with the table's columns after.
   */
  addColumns(columns: readonly Column[]): Promise<Column[]>;
  /**
   * Opens a new COMMITTED write stream (insertAll: the table) for rows with
   * `columns` (default: the plays columns); pass-through values of a row are
   * written to those of them it names.
   */
  openStream(columns?: readonly Column[]): Promise<RowStream>;
  /**
   * Opens a PENDING write stream: rows appended to it are checked by
   * BigQuery but never stored. Undefined with insertAll.
   */
  openProbe(): Promise<RowStream | undefined>;
  /** Finalizes a write stream and tells how many rows it holds (or that it is gone). */
  finalizeStream(name: string): Promise<FinalizeResult>;
  /**
   * The Kafka offsets of `partition`, from `from` on, that rows in the table
   * hold (a query: rows appended to COMMITTED streams are visible at once).
   */
  storedOffsets(partition: number, from: bigint): Promise<Set<bigint>>;
  /** Whether a rejected call is worth retrying. */
  isTransient(error: unknown): boolean;
  /** Closes the clients. */
  close(): void;
}

/** Options of {@linkcode openDestination}. */
export interface DestinationOptions {
  api: WriteApi;
  /** `host:port` of a local BigQuery's Storage API; real BigQuery when undefined. */
  storageEmulator?: string | undefined;
  /** Deadline of each call in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** The policy whose table {@linkcode Destination.createTable} creates (default `add-columns`). */
  schemaEvolution?: SchemaEvolution;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function messageOf(error: unknown): string {
  return isRecord(error) && typeof error.message === "string" ? error.message : String(error);
}

/** BigQuery's name for a column type, as `tables.get` may spell it. */
function canonicalType(type: unknown): string {
  const name = String(type).toUpperCase();
  return name === "INTEGER" ? "INT64" : name === "FLOAT" ? "FLOAT64" : name;
}

/**
 * Why rows of the plays table (shared/schema.ts) may not fit a table with
 * these `fields` (as `tables.get` returns them), or undefined when they fit:
 * a column missing or of another type, or a REQUIRED column the rows lack.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLAYS_COLUMNS } from "../schema.ts";
 * import { schemaProblem } from "./destination.ts";
 * const fields: Record<string, string>[] = PLAYS_COLUMNS.map((column) => ({ ...column }));
 * assert.equal(schemaProblem(fields), undefined);
 * fields[2] = { ...fields[2], type: "INTEGER" };
 * assert.equal(
 *   schemaProblem(fields),
 *   "column 'artist' is INT64 in the table, STRING in the rows",
 * );
 * ```
 */
export function schemaProblem(fields: unknown): string | undefined {
  const problems = columnProblems(fields);
  return problems.length === 0 ? undefined : problems.map((problem) => problem.text).join("; ");
}

/**
 * What in the table's columns (`fields`) keeps every row out: a plays
 * column missing or REPEATED, or a column the rows lack that is REQUIRED;
 * undefined when some row may fit. A plays column of another type is not
 * such a problem: BigQuery converts the values it can (`"1970"` into an
 * INT64 `artist`) and refuses the others row by row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLAYS_COLUMNS } from "../schema.ts";
 * import { noRowFits } from "./destination.ts";
 * const fields: Record<string, string>[] = PLAYS_COLUMNS.map((column) => ({ ...column }));
 * fields[2] = { ...fields[2], type: "INTEGER" };
 * assert.equal(noRowFits(fields), undefined);
 * assert.equal(noRowFits(fields.slice(1)), "column 'event_id' is missing");
 * ```
 */
export function noRowFits(fields: unknown): string | undefined {
  const problems = columnProblems(fields).filter((problem) => !problem.typeOnly);
  return problems.length === 0 ? undefined : problems.map((problem) => problem.text).join("; ");
}

function columnProblems(fields: unknown): { text: string; typeOnly: boolean }[] {
  const list = Array.isArray(fields) ? fields.filter(isRecord) : [];
  const byName = new Map(list.map((field) => [String(field.name).toLowerCase(), field]));
  const problems: { text: string; typeOnly: boolean }[] = [];
  const problem = (text: string, typeOnly = false) => problems.push({ text, typeOnly });
  for (const column of PLAYS_COLUMNS) {
    const field = byName.get(column.name.toLowerCase());
    if (field === undefined) {
      problem(`column '${column.name}' is missing`);
    } else if (canonicalType(field.type) !== column.type) {
      problem(
        `column '${column.name}' is ${
          canonicalType(field.type)
        } in the table, ${column.type} in the rows`,
        true,
      );
    } else if (String(field.mode ?? "NULLABLE").toUpperCase() === "REPEATED") {
      problem(`column '${column.name}' is REPEATED in the table`);
    }
  }
  const ours = new Set(PLAYS_COLUMNS.map((column) => column.name.toLowerCase()));
  for (const [name, field] of byName) {
    if (!ours.has(name) && String(field.mode).toUpperCase() === "REQUIRED") {
      problem(`column '${String(field.name)}' is REQUIRED but the rows do not have it`);
    }
  }
  return problems;
}

/** Column types by lower-case name (BigQuery's names are case-insensitive). */
function columnTypes(columns: readonly Column[]): Map<string, ColumnType> {
  return new Map(columns.map((column) => [column.name.toLowerCase(), column.type]));
}

const COLUMN_TYPES: readonly ColumnType[] = [
  "STRING",
  "INT64",
  "FLOAT64",
  "BOOL",
  "TIMESTAMP",
  "JSON",
];

/**
 * The columns of a table's `fields` (as `tables.get` returns them), types
 * in their standard SQL names; a column of a type livecharts does not write
 * (NUMERIC, RECORD, ...) is left out, so no value is ever written to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnsOf } from "./destination.ts";
 * assert.deepEqual(
 *   columnsOf([{ name: "n", type: "INTEGER", mode: "NULLABLE" }, { name: "r", type: "RECORD" }]),
 *   [{ name: "n", type: "INT64", mode: "NULLABLE", description: "" }],
 * );
 * ```
 */
export function columnsOf(fields: unknown): Column[] {
  const columns: Column[] = [];
  for (const field of Array.isArray(fields) ? fields.filter(isRecord) : []) {
    const name = String(field.name);
    const canonical = canonicalType(field.type);
    const type = COLUMN_TYPES.find((known) =>
      known === (canonical === "BOOLEAN" ? "BOOL" : canonical)
    );
    if (type === undefined) continue;
    const mode = String(field.mode ?? "NULLABLE").toUpperCase() === "REQUIRED"
      ? "REQUIRED"
      : "NULLABLE";
    const description = typeof field.description === "string" ? field.description : "";
    columns.push({ name, type, mode, description });
  }
  return columns;
}

/** A row as insertAll takes it: the plays columns, then the pass-through values it has columns for. */
function insertAllRow(row: PlayRow, types: ReadonlyMap<string, ColumnType>) {
  const { fields, ...core } = row;
  const json: Record<string, unknown> = { ...core };
  for (const [name, value] of Object.entries(fields ?? {})) {
    const type = types.get(name.toLowerCase());
    if (type !== undefined) {
      const stored = columnValue(value, type);
      json[name] = stored instanceof Date ? stored.toISOString() : stored;
    }
  }
  return json;
}

/** The HTTP status of a REST error, when it has one. */
function httpStatus(error: unknown): number | undefined {
  return isRecord(error) && typeof error.code === "number" ? error.code : undefined;
}

/**
 * The gRPC status a failed insertAll request stands for, so that both write
 * APIs fail the same way: 404 → NOT_FOUND, 401 → UNAUTHENTICATED, 403 →
 * PERMISSION_DENIED (quota: RESOURCE_EXHAUSTED), 400 → INVALID_ARGUMENT;
 * anything worth retrying → UNAVAILABLE.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { insertAllFailure } from "./destination.ts";
 * assert.deepEqual(insertAllFailure({ code: 404, message: "Not found: Table x" }), {
 *   status: "failed", code: 5, message: "Not found: Table x", retryable: false,
 * });
 * assert.equal(insertAllFailure(new Error("socket hang up")).status, "failed");
 * ```
 */
export function insertAllFailure(error: unknown): AppendResult {
  const message = messageOf(error);
  if (isTransientBigQueryError(error)) {
    const code = httpStatus(error) === 403 ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.UNAVAILABLE;
    return { status: "failed", code, message, retryable: true };
  }
  const status = httpStatus(error);
  const code = status === 404
    ? GrpcStatus.NOT_FOUND
    : status === 401
    ? GrpcStatus.UNAUTHENTICATED
    : status === 403
    ? GrpcStatus.PERMISSION_DENIED
    : status === 400
    ? GrpcStatus.INVALID_ARGUMENT
    : GrpcStatus.FAILED_PRECONDITION;
  return { status: "failed", code, message, retryable: false };
}

/** Whether a lookup's error says the table (or dataset) does not exist. */
function isMissing(error: unknown): boolean {
  return httpStatus(error) === 404;
}

/** Whether a lookup's error says access is refused (not a quota). */
function isDenied(error: unknown): boolean {
  const status = httpStatus(error);
  return (status === 401 || status === 403) && !isTransientBigQueryError(error);
}

function createdAtOf(metadata: unknown): number | undefined {
  if (!isRecord(metadata)) return undefined;
  const value = Number(metadata.creationTime);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Creates the dataset and the plays table when missing (409: created meanwhile). */
async function createPlaysTable(warehouse: Warehouse, policy: SchemaEvolution): Promise<void> {
  const ms = warehouse.requestTimeoutMs;
  const dataset = warehouse.client.dataset(warehouse.config.dataset);
  const [datasetExists] = await withDeadline("a dataset lookup", ms, () => dataset.exists());
  if (!datasetExists) {
    await withDeadline("creating the dataset", ms, () => dataset.create()).catch((error) => {
      if (httpStatus(error) !== 409) throw error;
    });
  }
  await withDeadline(
    "creating the table",
    ms,
    () => warehouse.table.create(playsTableMetadata(policy)),
  )
    .catch((error) => {
      if (httpStatus(error) !== 409) throw error;
    });
}

/**
 * Opens the plays table of `config` for writing with `options.api` (loading
 * Google's Storage Write client only for that API).
 */
export async function openDestination(
  config: BigQueryConfig,
  options: DestinationOptions,
): Promise<Destination> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const warehouse = openWarehouse(config, { requestTimeoutMs: timeoutMs });
  const table = `${config.project}.${config.dataset}.${config.table}`;

  async function checkTable(): Promise<TableCheck> {
    try {
      const [metadata] = await withDeadline(
        "a table lookup",
        timeoutMs,
        () => warehouse.table.getMetadata(),
      );
      const schema = isRecord(metadata) && isRecord(metadata.schema) ? metadata.schema : {};
      return {
        status: "ok",
        createdAt: createdAtOf(metadata),
        schemaProblem: schemaProblem(schema.fields),
      };
    } catch (error) {
      if (isMissing(error)) return { status: "missing", message: messageOf(error) };
      if (isDenied(error)) return { status: "denied", message: messageOf(error) };
      if (isTransientBigQueryError(error)) throw error;
      return { status: "refused", message: messageOf(error) };
    }
  }

  async function tableColumns(): Promise<Column[]> {
    const [metadata] = await withDeadline(
      "a table lookup",
      timeoutMs,
      () => warehouse.table.getMetadata(),
    );
    const schema = isRecord(metadata) && isRecord(metadata.schema) ? metadata.schema : {};
    return columnsOf(schema.fields);
  }

  async function addColumns(columns: readonly Column[]): Promise<Column[]> {
    const before = new Set((await tableColumns()).map((column) => column.name.toLowerCase()));
    const wanted = columns.filter((column) => !before.has(column.name.toLowerCase()));
    if (wanted.length === 0) return await tableColumns();
    // The DDL adds each column once however many consumers ask at the same
    // time; a local BigQuery then needs the table's metadata patched too
    // (its tables.get does not show what ALTER added, and tables.patch
    // alone does not add storage for the column).
    for (const column of wanted) {
      await query(
        warehouse,
        `ALTER TABLE ${
          playsTableRef(config)
        } ADD COLUMN IF NOT EXISTS \`${column.name}\` ${column.type}`,
      );
    }
    // A patch writes the whole schema: one racing with another consumer's
    // can hide the other's column. Patch until every wanted column shows.
    for (let attempt = 1;; attempt++) {
      const [metadata] = await withDeadline(
        "a table lookup",
        timeoutMs,
        () => warehouse.table.getMetadata(),
      );
      const schema = isRecord(metadata) && isRecord(metadata.schema) ? metadata.schema : {};
      const fields = Array.isArray(schema.fields) ? schema.fields : [];
      const shown = new Set(columnsOf(fields).map((column) => column.name.toLowerCase()));
      const missing = wanted.filter((column) => !shown.has(column.name.toLowerCase()));
      if (missing.length === 0 || attempt > 5) return columnsOf(fields);
      await withDeadline(
        "changing the table's schema",
        timeoutMs,
        () =>
          warehouse.table.setMetadata({
            schema: {
              fields: [
                ...fields,
                ...missing.map(({ name, type, description }) => ({
                  name,
                  type,
                  mode: "NULLABLE",
                  description,
                })),
              ],
            },
          }),
      );
    }
  }

  async function storedOffsets(partition: number, from: bigint): Promise<Set<bigint>> {
    const rows = await query(
      warehouse,
      `SELECT DISTINCT kafka_offset FROM ${
        playsTableRef(config)
      } WHERE kafka_partition = @partition AND kafka_offset >= @from`,
      { partition, from: Number(from) },
    );
    const offsets = new Set<bigint>();
    for (const row of rows) {
      const offset = row.kafka_offset;
      if (typeof offset === "number" || typeof offset === "string" || typeof offset === "bigint") {
        offsets.add(BigInt(offset));
      }
    }
    return offsets;
  }

  const common = {
    table,
    checkTable,
    tableColumns,
    addColumns,
    createTable: () => createPlaysTable(warehouse, options.schemaEvolution ?? "add-columns"),
    storedOffsets,
  };

  if (options.api === "insert-all") {
    const insertAllStream = (columns: readonly Column[]): RowStream => ({
      name: undefined,
      async append(rows, offset) {
        const types = columnTypes(columns);
        try {
          const refused = await insertRows(
            warehouse.table,
            rows.map((row) => ({ insertId: row.event_id, json: insertAllRow(row, types) })),
            { timeoutMs },
          );
          return { status: "ok", offset, rows: rows.length - refused.length, refused };
        } catch (error) {
          return insertAllFailure(error);
        }
      },
      close() {},
    });
    return {
      ...common,
      api: "insert-all",
      exactlyOnce: false,
      openStream: (columns = PLAYS_COLUMNS) => Promise.resolve(insertAllStream(columns)),
      openProbe: () => Promise.resolve(undefined),
      finalizeStream: (name) =>
        Promise.resolve({ status: "not-found", message: `insertAll has no stream ${name}` }),
      isTransient: isTransientBigQueryError,
      close() {},
    };
  }

  const writer: StorageWriter = await openStorageWriter(
    { project: config.project, dataset: config.dataset, table: config.table },
    {
      emulator: options.storageEmulator,
      credentials: config.credentials,
      timeoutMs,
    },
  );

  async function open(
    type: "committed" | "pending",
    columns: readonly Column[] = PLAYS_COLUMNS,
  ): Promise<RowStream> {
    const name = await writer.createStream(type);
    const appender = await writer.openAppender(name, columns);
    return {
      name,
      append: (rows, offset) => appender.appendPlays(rows, offset),
      close: () => appender.close(),
    };
  }

  return {
    ...common,
    api: "storage-write",
    exactlyOnce: true,
    openStream: (columns) => open("committed", columns),
    openProbe: () => open("pending"),
    finalizeStream: (name) => writer.finalizeStream(name),
    // REST calls (table lookups and creation) and gRPC calls both come here.
    isTransient: (error) =>
      (httpStatus(error) ?? 0) >= 100
        ? isTransientBigQueryError(error)
        : isTransientStorageError(error),
    close: () => writer.close(),
  };
}
