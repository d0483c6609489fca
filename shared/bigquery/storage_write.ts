/**
 * The BigQuery Storage Write API for the plays table, as plain data: COMMITTED
 * write streams, appends at explicit offsets, finalize with the stream's row
 * count, and stream lookups.
 *
 * What BigQuery answers is a value, never an exception: an append resolves
 * with `ok`, `already-exists` (those offsets hold rows already),
 * `out-of-range` (a gap before the offset), `rows-refused` (rows BigQuery
 * refuses as rows) or `failed` (anything else, with whether it is worth
 * retrying); a lookup or finalize of a stream that does not exist resolves
 * with `not-found`. Only the stream and table management calls reject, on
 * errors {@linkcode isTransientStorageError} classifies.
 *
 * Every call has a deadline. An append that misses it resolves as a
 * retryable `failed` and its connection is dropped (answers on it could no
 * longer be matched to requests); the next append opens a new one. With
 * explicit offsets, re-sending is safe: rows already stored come back as
 * `already-exists`.
 *
 * Against a local BigQuery (`emulator: "host:port"`) the client speaks
 * plaintext gRPC and is given a pass-through auth client, so no Google
 * library looks for credentials or probes a metadata server.
 *
 * Google's client libraries load on the first {@linkcode openStorageWriter}
 * (they cost about 16 MB of heap), not with this module.
 *
 * @module
 */

import type { managedwriter } from "@google-cloud/bigquery-storage";
import { type Column, type ColumnType, type PlayRow, PLAYS_COLUMNS } from "../schema.ts";
import { withDeadline } from "./deadline.ts";
import { compileRowEncoder, type RowEncoder } from "./row_encoder.ts";

/** gRPC status codes an append or a stream call can answer with. */
export const GrpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * Codes of BigQuery's `StorageError` (google.cloud.bigquery.storage.v1), the
 * detail real BigQuery attaches to a failed append: the gRPC code alone may
 * not tell a finalized stream from rows it refuses.
 */
export const StorageErrorCode = {
  TABLE_NOT_FOUND: 1,
  STREAM_NOT_FOUND: 3,
  INVALID_STREAM_STATE: 5,
  STREAM_FINALIZED: 6,
  /** The rows' descriptor names a field the table does not have (a column dropped meanwhile). */
  SCHEMA_MISMATCH_EXTRA_FIELDS: 7,
  OFFSET_ALREADY_EXISTS: 8,
  OFFSET_OUT_OF_RANGE: 9,
} as const;

const STORAGE_ERROR_TYPE = "google.cloud.bigquery.storage.v1.StorageError";

/** Reads the `code` of a `StorageError` from its encoded bytes. */
export type StorageErrorDecoder = (bytes: Uint8Array) => unknown;

/**
 * The `StorageError` code among a failed answer's `details` (`google.protobuf.Any`
 * values), or undefined when there is none.
 */
export function storageErrorCode(
  error: Record<string, unknown>,
  decode: StorageErrorDecoder | undefined,
): number | undefined {
  if (decode === undefined || !Array.isArray(error.details)) return undefined;
  for (const detail of error.details) {
    if (!isRecord(detail)) continue;
    const type = typeof detail.typeUrl === "string"
      ? detail.typeUrl
      : typeof detail.type_url === "string"
      ? detail.type_url
      : "";
    if (!type.endsWith(STORAGE_ERROR_TYPE) || !(detail.value instanceof Uint8Array)) continue;
    try {
      const decoded = decode(detail.value);
      if (isRecord(decoded) && typeof decoded.code === "number") return decoded.code;
    } catch {
      // Not a StorageError after all: the gRPC code decides.
    }
  }
  return undefined;
}

const RETRYABLE = new Set<number>([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNAVAILABLE,
]);

/** Deadline of one Storage Write call unless the options say otherwise. */
export const DEFAULT_STORAGE_TIMEOUT_MS = 30_000;

/** Where the plays table is. */
export interface StorageTarget {
  project: string;
  dataset: string;
  table: string;
}

/** Options of {@linkcode openStorageWriter}. */
export interface StorageWriterOptions {
  /**
   * `host:port` of a local BigQuery's Storage API (plaintext gRPC), e.g.
   * `127.0.0.1:9060`; real BigQuery when undefined.
   */
  emulator?: string | undefined;
  /** Service-account key file for real BigQuery (default: application default credentials). */
  credentials?: string | undefined;
  /** Deadline of each call in milliseconds (default {@linkcode DEFAULT_STORAGE_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/** A row as the Storage Write API takes it: TIMESTAMP columns as `Date`. */
export type StorageRow = {
  event_id: string;
  user_id: number;
  artist: string;
  song_id: number;
  song_name: string;
  event_type: string;
  timestamp: Date;
  ingested_at: Date;
  kafka_partition: number;
  kafka_offset: number;
  /** Columns beyond the plays columns (TIMESTAMP as `Date`, JSON as text). */
  [column: string]: StorageValue;
};

/** A column's value as the Storage Write API takes it. */
export type StorageValue = string | number | boolean | Date | null;

/**
 * A pass-through value as a column of `type` takes it through the Storage
 * Write API (and insertAll): TIMESTAMP as a `Date`, JSON as its text.
 */
export function columnValue(value: unknown, type: ColumnType): StorageValue {
  if (value === null || value === undefined) return null;
  if (type === "JSON") return JSON.stringify(value);
  if (type === "TIMESTAMP" && typeof value === "string") return new Date(value);
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  return null;
}

/**
 * The row of the plays table for the Storage Write API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storageRow } from "./storage_write.ts";
 * const play = {
 *   event_id: "e1", user_id: 7, artist: "tony-allen", song_id: 3, song_name: "secret-agent",
 *   event_type: "song_completed" as const, timestamp: "2026-01-02T03:04:05.678Z",
 *   ingested_at: "2026-01-02T03:04:06.000Z", kafka_partition: 1, kafka_offset: 42,
 * };
 * const row = storageRow(play);
 * assert.equal(row.timestamp.getTime(), Date.UTC(2026, 0, 2, 3, 4, 5, 678));
 * assert.equal(row.kafka_offset, 42);
 * // Pass-through values go to the columns it is given, as those take them.
 * const more = storageRow({ ...play, fields: { device: { os: "ios" }, mood: "calm" } },
 *   new Map([["device", "JSON"]]));
 * assert.equal(more.device, '{"os":"ios"}');
 * assert.equal(more.mood, undefined);
 * ```
 */
export function storageRow(
  row: PlayRow,
  types: ReadonlyMap<string, ColumnType> = new Map(),
): StorageRow {
  const extra: Record<string, StorageValue> = {};
  for (const [name, value] of Object.entries(row.fields ?? {})) {
    const type = types.get(name.toLowerCase());
    if (type !== undefined) extra[name] = columnValue(value, type);
  }
  return {
    ...extra,
    event_id: row.event_id,
    user_id: row.user_id,
    artist: row.artist,
    song_id: row.song_id,
    song_name: row.song_name,
    event_type: row.event_type,
    timestamp: new Date(row.timestamp),
    ingested_at: new Date(row.ingested_at),
    kafka_partition: row.kafka_partition,
    kafka_offset: row.kafka_offset,
  };
}

/** A row BigQuery refused, by its index in the append. */
export interface RefusedRow {
  index: number;
  reason: string;
}

/** What an append led to. */
export type AppendResult =
  /**
   * Stored: the rows hold offsets `offset` to `offset + rows - 1`. (Through
   * insertAll, `refused` may list rows that were not stored while the others
   * were.) `schemaUpdated`: BigQuery says the table's schema changed since
   * the connection opened (the answer's `updated_schema`).
   */
  | {
    status: "ok";
    offset: number;
    rows: number;
    refused?: RefusedRow[];
    schemaUpdated?: boolean;
  }
  /** The stream already holds a row at `offset`: these rows were stored before. */
  | { status: "already-exists"; message: string }
  /** `offset` is past the stream's end: rows before it are missing. */
  | { status: "out-of-range"; message: string }
  /** Nothing was stored: BigQuery refuses these rows as rows. */
  | { status: "rows-refused"; rows: RefusedRow[]; message: string }
  /**
   * Nothing known to be stored. `retryable`: send the same rows at the same
   * offset again (the connection was lost, the deadline passed, BigQuery was
   * busy); otherwise the stream cannot take them (finalized, not found, ...).
   */
  | {
    status: "failed";
    code: number;
    message: string;
    retryable: boolean;
    /** The stream was finalized (by whoever finalized it: another owner, after a rebalance). */
    finalized?: boolean;
  };

/** A write stream as a lookup returns it. */
export type StreamLookup =
  | {
    status: "found";
    name: string;
    /** `COMMITTED`, `PENDING`, `BUFFERED` or `TYPE_UNSPECIFIED` (the default stream). */
    type: string;
    createdAt?: Date;
  }
  | { status: "not-found"; message: string };

/** What finalizing a stream led to. */
export type FinalizeResult =
  /** The stream takes no more appends and holds exactly `rowCount` rows. */
  | { status: "finalized"; rowCount: number }
  | { status: "not-found"; message: string };

/** An open connection appending to one write stream. */
export interface Appender {
  /** The stream's name, `projects/…/streams/…`. */
  readonly stream: string;
  /**
   * Appends `rows` at `offset` (the stream's row count so far). Several
   * appends may be in flight; they are applied in call order.
   */
  append(rows: readonly StorageRow[], offset: number): Promise<AppendResult>;
  /**
   * Like {@linkcode Appender.append}, for rows of the plays table as they
   * are built (pass-through values in `fields`): encoded straight to the
   * stream's protobuf message, with no intermediate row objects.
   */
  appendPlays(rows: readonly PlayRow[], offset: number): Promise<AppendResult>;
  /** How many errors the connections reported so far (for logs and metrics). */
  readonly connectionErrors: number;
  /** Closes the connection; appends still in flight resolve as retryable failures. */
  close(): void;
}

/** A Storage Write API client for one table. */
export interface StorageWriter {
  /** The table, `projects/{project}/datasets/{dataset}/tables/{table}`. */
  readonly table: string;
  /**
   * Creates a write stream and resolves with its name: `committed` (the
   * default: appended rows are visible at once) or `pending` (rows are never
   * visible unless the stream is committed, which nothing here does: a place
   * to learn which rows BigQuery refuses without storing any).
   */
  createStream(type?: "committed" | "pending"): Promise<string>;
  /** Looks a stream up by name. */
  getStream(name: string): Promise<StreamLookup>;
  /** Finalizes a stream (no more appends) and tells how many rows it holds; idempotent. */
  finalizeStream(name: string): Promise<FinalizeResult>;
  /**
   * Opens a connection that appends to stream `name`, rows described by
   * `columns` (default: the plays columns).
   */
  openAppender(name: string, columns?: readonly Column[]): Promise<Appender>;
  /** Closes every connection of this client. */
  close(): void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function grpcCode(error: unknown): number | undefined {
  return isRecord(error) && typeof error.code === "number" ? error.code : undefined;
}

function messageOf(error: unknown): string {
  if (isRecord(error) && typeof error.message === "string") return error.message;
  return String(error);
}

/**
 * Whether a rejected stream call is worth retrying: deadlines, lost
 * connections and busy servers are; a missing table or a refused request are not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTransientStorageError } from "./storage_write.ts";
 * assert.equal(isTransientStorageError({ code: 14, message: "unavailable" }), true);
 * assert.equal(isTransientStorageError({ code: 5, message: "table not found" }), false);
 * ```
 */
export function isTransientStorageError(error: unknown): boolean {
  const code = grpcCode(error);
  // No gRPC status (a deadline of ours, a socket error): no answer at all.
  return code === undefined || RETRYABLE.has(code);
}

/** Google's client libraries, loaded when first needed. */
interface Libraries {
  storage: typeof import("@google-cloud/bigquery-storage");
  grpc: typeof import("@grpc/grpc-js");
  /** The client's own google-gax, whose auth library is another major than ours. */
  gax: typeof import("google-gax");
}

let libraries: Promise<Libraries> | undefined;

function loadLibraries(): Promise<Libraries> {
  libraries ??= Promise.all([
    import("@google-cloud/bigquery-storage"),
    import("@grpc/grpc-js"),
    import("google-gax"),
  ]).then(([storage, grpc, gax]) => ({ storage, grpc, gax }));
  return libraries;
}

/** The proto descriptor of rows with `columns` (default: the plays columns of shared/schema.ts). */
function playsDescriptor(
  { adapt }: Libraries["storage"],
  columns: readonly Column[] = PLAYS_COLUMNS,
) {
  const schema = {
    fields: columns.map(({ name, type, mode }) => ({ name, type, mode })),
  };
  return adapt.convertStorageSchemaToProto2Descriptor(
    adapt.convertBigQuerySchemaToStorageTableSchema(schema),
    "root",
  );
}

function toDate(timestamp: unknown): Date | undefined {
  if (!isRecord(timestamp)) return undefined;
  const seconds = Number(timestamp.seconds ?? 0);
  const nanos = Number(timestamp.nanos ?? 0);
  return Number.isFinite(seconds) ? new Date(seconds * 1000 + Math.floor(nanos / 1e6)) : undefined;
}

/**
 * Maps BigQuery's answer to an append of `rows` rows at `offset` to a result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendResult } from "./storage_write.ts";
 * assert.deepEqual(appendResult({ appendResult: { offset: { value: 0 } } }, 0, 500), {
 *   status: "ok", offset: 0, rows: 500,
 * });
 * assert.equal(appendResult({ error: { code: 6, message: "" } }, 0, 500).status, "already-exists");
 * ```
 *
 * With `decode`, a `StorageError` among the answer's details decides first:
 * a finalized or missing stream, or rows described with a column the table
 * no longer has, is a failure that is not worth re-sending (a new stream is
 * due), never rows refused. An answer with an `updatedSchema` (BigQuery saw
 * the table's schema change) is `ok` with `schemaUpdated`.
 */
export function appendResult(
  response: unknown,
  offset: number,
  rows: number,
  decode?: StorageErrorDecoder,
): AppendResult {
  const error = isRecord(response) && isRecord(response.error) ? response.error : undefined;
  const code = error !== undefined && typeof error.code === "number" ? error.code : 0;
  if (code === 0) {
    const updated = isRecord(response) && isRecord(response.updatedSchema) &&
      Array.isArray(response.updatedSchema.fields) && response.updatedSchema.fields.length > 0;
    return updated
      ? { status: "ok", offset, rows, schemaUpdated: true }
      : { status: "ok", offset, rows };
  }
  const message = error !== undefined && typeof error.message === "string" ? error.message : "";
  switch (error === undefined ? undefined : storageErrorCode(error, decode)) {
    case StorageErrorCode.OFFSET_ALREADY_EXISTS:
      return { status: "already-exists", message };
    case StorageErrorCode.OFFSET_OUT_OF_RANGE:
      return { status: "out-of-range", message };
    case StorageErrorCode.STREAM_NOT_FOUND:
    case StorageErrorCode.TABLE_NOT_FOUND:
      return { status: "failed", code: GrpcStatus.NOT_FOUND, message, retryable: false };
    case StorageErrorCode.STREAM_FINALIZED:
      return {
        status: "failed",
        code: GrpcStatus.FAILED_PRECONDITION,
        message,
        retryable: false,
        finalized: true,
      };
    case StorageErrorCode.INVALID_STREAM_STATE:
    case StorageErrorCode.SCHEMA_MISMATCH_EXTRA_FIELDS:
      return { status: "failed", code: GrpcStatus.FAILED_PRECONDITION, message, retryable: false };
  }
  if (code === GrpcStatus.ALREADY_EXISTS) return { status: "already-exists", message };
  if (code === GrpcStatus.FAILED_PRECONDITION && /\bfinali[sz]ed\b/i.test(message)) {
    // The local BigQuery says so in words only ("Stream is finalized").
    return { status: "failed", code, message, retryable: false, finalized: true };
  }
  if (code === GrpcStatus.OUT_OF_RANGE) return { status: "out-of-range", message };
  const rowErrors = isRecord(response) && Array.isArray(response.rowErrors)
    ? response.rowErrors.filter(isRecord)
    : [];
  if (rowErrors.length > 0) {
    return {
      status: "rows-refused",
      rows: rowErrors.map((row) => ({
        index: Number(row.index ?? 0),
        reason: typeof row.message === "string" && row.message !== "" ? row.message : message,
      })),
      message,
    };
  }
  return { status: "failed", code, message, retryable: RETRYABLE.has(code) };
}

/**
 * Opens a Storage Write API client for `target` (loading Google's client
 * libraries the first time). Nothing is sent until the first call.
 */
export async function openStorageWriter(
  target: StorageTarget,
  options: StorageWriterOptions = {},
): Promise<StorageWriter> {
  const libs = await loadLibraries();
  const { WriterClient, CommittedStream, PendingStream } = libs.storage.managedwriter;
  const timeoutMs = options.timeoutMs ?? DEFAULT_STORAGE_TIMEOUT_MS;
  const table = `projects/${target.project}/datasets/${target.dataset}/tables/${target.table}`;
  const client = new WriterClient(
    options.emulator === undefined
      ? cloudOptions(target, options)
      : emulatorOptions(libs, target, options.emulator),
  );
  const gapic = client.getClient();
  const protoDescriptor = playsDescriptor(libs.storage);
  const playsEncoder = compileRowEncoder(PLAYS_COLUMNS);
  const call = { timeout: timeoutMs, retry: null };

  return {
    table,
    createStream: (type = "committed") =>
      withDeadline("creating a write stream", timeoutMs, async () => {
        await client.initialize();
        const [stream] = await gapic.createWriteStream(
          {
            parent: table,
            writeStream: { type: type === "pending" ? PendingStream : CommittedStream },
          },
          call,
        );
        if (typeof stream.name !== "string" || stream.name === "") {
          throw new Error(`Cannot create a write stream on ${table}: the answer has no name`);
        }
        return stream.name;
      }),

    getStream: (name) =>
      withDeadline("a write stream lookup", timeoutMs, async () => {
        await client.initialize();
        try {
          const [stream] = await gapic.getWriteStream({ name }, call);
          const createdAt = toDate(stream.createTime);
          return {
            status: "found" as const,
            name: stream.name ?? name,
            type: String(stream.type ?? "TYPE_UNSPECIFIED"),
            ...(createdAt === undefined ? {} : { createdAt }),
          };
        } catch (error) {
          if (grpcCode(error) !== GrpcStatus.NOT_FOUND) throw error;
          return { status: "not-found" as const, message: messageOf(error) };
        }
      }),

    finalizeStream: (name) =>
      withDeadline("finalizing a write stream", timeoutMs, async () => {
        await client.initialize();
        try {
          const [response] = await gapic.finalizeWriteStream({ name }, call);
          return { status: "finalized" as const, rowCount: Number(response.rowCount ?? 0) };
        } catch (error) {
          if (grpcCode(error) !== GrpcStatus.NOT_FOUND) throw error;
          return { status: "not-found" as const, message: messageOf(error) };
        }
      }),

    openAppender: async (name, columns) => {
      await withDeadline("connecting to BigQuery", timeoutMs, () => client.initialize());
      const descriptor = columns === undefined
        ? protoDescriptor
        : playsDescriptor(libs.storage, columns);
      return openAppender(libs.storage.managedwriter, client, {
        stream: name,
        protoDescriptor: descriptor,
        encoder: columns === undefined ? playsEncoder : compileRowEncoder(columns),
        timeoutMs,
        decodeStorageError: (bytes) =>
          libs.storage.protos.google.cloud.bigquery.storage.v1.StorageError.decode(bytes),
      });
    },

    close: () => client.close(),
  };
}

type WriterClientOptions = ConstructorParameters<typeof managedwriter.WriterClient>[0];

function emulatorOptions(
  { grpc, gax }: Libraries,
  target: StorageTarget,
  emulator: string,
): WriterClientOptions {
  const separator = emulator.lastIndexOf(":");
  const port = Number(emulator.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(
      `Cannot reach the local BigQuery's Storage API: expected host:port, got ${
        JSON.stringify(emulator)
      }`,
    );
  }
  return {
    projectId: target.project,
    servicePath: emulator.slice(0, separator),
    port,
    sslCreds: grpc.credentials.createInsecure(),
    // Never look for credentials, never probe a metadata server.
    authClient: new gax.googleAuthLibrary.PassThroughClient(),
  };
}

function cloudOptions(target: StorageTarget, options: StorageWriterOptions): WriterClientOptions {
  return {
    projectId: target.project,
    ...(options.credentials === undefined ? {} : { keyFilename: options.credentials }),
  };
}

/** What an appender writes with: its stream, the rows' message and their encoder. */
interface AppenderSetup {
  stream: string;
  protoDescriptor: ReturnType<typeof playsDescriptor>;
  /** Compiled for the same columns as `protoDescriptor`. */
  encoder: RowEncoder;
  timeoutMs: number;
  decodeStorageError: StorageErrorDecoder;
}

function openAppender(
  { Writer }: Libraries["storage"]["managedwriter"],
  client: managedwriter.WriterClient,
  { stream, protoDescriptor, encoder, timeoutMs, decodeStorageError }: AppenderSetup,
): Appender {
  type Connected = {
    connection: Awaited<ReturnType<managedwriter.WriterClient["createStreamConnection"]>>;
    writer: managedwriter.Writer;
  };
  let current: Promise<Connected> | undefined;
  let connectionErrors = 0;
  let closed = false;

  async function open(): Promise<Connected> {
    const connection = await client.createStreamConnection({ streamId: stream });
    // Rows are encoded by `encoder` (row_encoder.ts), so the plain writer
    // sends them as they are; its message stays the one the stream was
    // opened with (rows naming a newer column go to a new stream).
    const writer = new Writer({ connection, protoDescriptor });
    const connected = { connection, writer };
    // Without a listener an error on the connection would be thrown as an
    // uncaught 'error' event. The write it concerns is answered through its
    // own result; the connection is replaced on the next append.
    connection.onConnectionError(() => {
      connectionErrors++;
      void drop(connected);
    });
    return connected;
  }

  function connect(): Promise<Connected> {
    current ??= open();
    const opening = current;
    // A failed connect is not kept: the next append tries again.
    opening.catch(() => {
      if (current === opening) current = undefined;
    });
    return opening;
  }

  /** Drops `which` connection (or the current one); its writes in flight fail as retryable. */
  async function drop(which?: Connected) {
    const opening = current;
    if (opening === undefined) return;
    const connected = await opening.catch(() => undefined);
    if (connected === undefined || (which !== undefined && which !== connected)) return;
    if (current === opening) current = undefined;
    const pending = connected.connection.getPendingWrites();
    connected.writer.close();
    for (const write of pending) write.abort();
  }

  async function send(
    count: number,
    offset: number,
    serialize: () => Uint8Array[],
  ): Promise<AppendResult> {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`Cannot append at offset ${offset}: it must be a non-negative integer`);
    }
    if (closed) {
      const message = "Cannot append: the appender is closed";
      return { status: "failed", code: GrpcStatus.CANCELLED, message, retryable: false };
    }
    try {
      return await withDeadline(`an append of ${count} rows`, timeoutMs, async () => {
        const { writer } = await connect();
        const pending = writer.appendRows({ serializedRows: serialize() }, offset);
        return appendResult(await pending.getResult(), offset, count, decodeStorageError);
      });
    } catch (error) {
      // No answer (deadline, lost connection, aborted write): answers still
      // to come on this connection could not be matched to their requests.
      await drop();
      const code = grpcCode(error) ?? GrpcStatus.UNAVAILABLE;
      return {
        status: "failed",
        code,
        message: messageOf(error),
        retryable: RETRYABLE.has(code) || grpcCode(error) === undefined,
      };
    }
  }

  return {
    stream,
    append: (rows, offset) => send(rows.length, offset, () => encoder.storage(rows)),
    appendPlays: (rows, offset) => send(rows.length, offset, () => encoder.plays(rows)),
    get connectionErrors() {
      return connectionErrors;
    },
    close() {
      closed = true;
      void drop();
    },
  };
}
