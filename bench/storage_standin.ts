/**
 * A bench instrument, not a BigQuery: a local Storage Write API stand-in
 * that acknowledges every append at once and stores nothing, so the
 * `sink_ceiling` benchmark measures the consumer's own ceiling instead of
 * the local BigQuery's.
 *
 * It speaks enough of `google.cloud.bigquery.storage.v1.BigQueryWrite` for
 * the consumer's exactly-once protocol: `CreateWriteStream` (COMMITTED or
 * PENDING), `AppendRows` with the offset checks of real BigQuery (an offset
 * below the stream's row count answers ALREADY_EXISTS, one past it
 * OUT_OF_RANGE, an append to a finalized stream STREAM_FINALIZED, each with
 * its `StorageError` detail), `FinalizeWriteStream` (the stream's row
 * count) and `GetWriteStream`. Only a row count is kept per stream; the
 * rows are counted, never decoded. Messages are read and written in the
 * protobuf wire format directly, so the stand-in costs little CPU next to
 * the consumer it measures.
 *
 * `deno run --allow-net=127.0.0.1 bench/storage_standin.ts [PORT]` runs it
 * alone and prints its address (for profiling the consumer by hand).
 *
 * @module
 */

import type * as grpc from "@grpc/grpc-js";

const SERVICE = "/google.cloud.bigquery.storage.v1.BigQueryWrite/";

/** gRPC codes and `StorageError` codes the stand-in answers with. */
const CODE = { NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9, OUT_OF_RANGE: 11 };
const STORAGE_ERROR = { STREAM_NOT_FOUND: 3, STREAM_FINALIZED: 6, OFFSET_EXISTS: 8, OFFSET_OOR: 9 };
const STORAGE_ERROR_TYPE = "type.googleapis.com/google.cloud.bigquery.storage.v1.StorageError";

// --- the protobuf wire format, as little of it as the stand-in needs ---

/** One field of a message: its number and its varint or its bytes. */
interface Field {
  number: number;
  varint: number;
  bytes: Uint8Array | undefined;
}

/** Reads the top-level fields of a protobuf message (varints as numbers). */
export function* fields(message: Uint8Array): Generator<Field> {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = message[at++];
      if (byte === undefined) throw new Error("Cannot read a varint: the message ends within it");
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (at < message.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        yield { number, varint: varint(), bytes: undefined };
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = varint();
        yield { number, varint: 0, bytes: message.subarray(at, at + length) };
        at += length;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new Error(`Cannot read field ${number}: wire type ${key & 7} is not supported`);
    }
  }
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A field of a message to write: a varint, a string or nested bytes. */
type Out = [number, number | string | Uint8Array];

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Writes a message from `(number, value)` pairs; zero varints are left out. */
export function message(...parts: Out[]): Uint8Array {
  const bytes: number[] = [];
  for (const [number, value] of parts) {
    if (typeof value === "number") {
      if (value === 0) continue;
      bytes.push(...varintBytes(number * 8), ...varintBytes(value));
    } else {
      const payload = typeof value === "string" ? textEncoder.encode(value) : value;
      bytes.push(...varintBytes(number * 8 + 2), ...varintBytes(payload.length), ...payload);
    }
  }
  return Uint8Array.from(bytes);
}

function text(field: Field): string {
  return field.bytes === undefined ? "" : textDecoder.decode(field.bytes);
}

// --- the service ---

/** One write stream: its kind, its row count and whether it is finalized. */
interface Stream {
  type: number;
  rows: number;
  finalized: boolean;
  createdAt: number;
}

/** What an append request says. */
export interface AppendRequest {
  /** The stream, when the request names it (the first of a connection must). */
  stream: string | undefined;
  /** The explicit offset, when given. */
  offset: number | undefined;
  /** How many serialized rows it carries. */
  rows: number;
}

/**
 * Reads an `AppendRowsRequest`: stream name, offset and row count (rows are
 * counted, not decoded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { message, readAppend } from "./storage_standin.ts";
 * const rows = message([1, new Uint8Array([8, 1])], [1, new Uint8Array([8, 2])]);
 * const request = message([1, "s1"], [2, message([1, 500])], [4, message([2, rows])]);
 * assert.deepEqual(readAppend(request), { stream: "s1", offset: 500, rows: 2 });
 * ```
 */
export function readAppend(request: Uint8Array): AppendRequest {
  let stream: string | undefined;
  let offset: number | undefined;
  let rows = 0;
  for (const field of fields(request)) {
    if (field.number === 1) stream = text(field);
    else if (field.number === 2 && field.bytes !== undefined) {
      offset = 0;
      for (const inner of fields(field.bytes)) if (inner.number === 1) offset = inner.varint;
    } else if (field.number === 4 && field.bytes !== undefined) {
      for (const data of fields(field.bytes)) {
        if (data.number !== 2 || data.bytes === undefined) continue;
        for (const row of fields(data.bytes)) if (row.number === 1) rows++;
      }
    }
  }
  return { stream, offset, rows };
}

/** The state of a stand-in: its streams, and what it was asked. */
export interface StandinState {
  /** Answers one `AppendRowsRequest` of a connection that appends to `stream`. */
  append(request: AppendRequest, stream: string): Uint8Array;
  create(table: string, type: number): Uint8Array;
  get(name: string): Uint8Array | undefined;
  finalize(name: string): Uint8Array | undefined;
  /** Rows acknowledged and appends answered, over every stream. */
  readonly counts: { rows: number; appends: number; refused: number; streams: number };
}

function storageError(code: number, storageCode: number, entity: string, text: string) {
  const detail = message([1, STORAGE_ERROR_TYPE], [2, message([1, storageCode], [2, entity])]);
  return message([2, message([1, code], [2, text], [3, detail])]);
}

/**
 * The stand-in's bookkeeping, with no network: appends are checked against
 * each stream's row count like real BigQuery checks them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createStandinState, fields } from "./storage_standin.ts";
 * const state = createStandinState();
 * const name = new TextDecoder().decode([...fields(state.create("t", 1))][0]!.bytes);
 * state.append({ stream: name, offset: 0, rows: 500 }, name);
 * const again = state.append({ stream: name, offset: 0, rows: 500 }, name);
 * assert.equal([...fields(again)][0]!.number, 2); // error: ALREADY_EXISTS
 * assert.equal(state.counts.rows, 500);
 * ```
 */
export function createStandinState(): StandinState {
  const streams = new Map<string, Stream>();
  const counts = { rows: 0, appends: 0, refused: 0, streams: 0 };
  const describe = (name: string, stream: Stream) => {
    const seconds = Math.floor(stream.createdAt / 1000);
    const nanos = (stream.createdAt % 1000) * 1_000_000;
    return message([1, name], [2, stream.type], [3, message([1, seconds], [2, nanos])]);
  };
  return {
    counts,
    create(table, type) {
      counts.streams++;
      const name = `${table}/streams/standin-${counts.streams}-${crypto.randomUUID()}`;
      const stream = {
        type: type === 0 ? 1 : type,
        rows: 0,
        finalized: false,
        createdAt: Date.now(),
      };
      streams.set(name, stream);
      return describe(name, stream);
    },
    get(name) {
      const stream = streams.get(name);
      return stream === undefined ? undefined : describe(name, stream);
    },
    finalize(name) {
      const stream = streams.get(name);
      if (stream === undefined) return undefined;
      stream.finalized = true;
      return message([1, stream.rows]);
    },
    append(request, name) {
      counts.appends++;
      const stream = streams.get(name);
      if (stream === undefined) {
        counts.refused++;
        return storageError(CODE.NOT_FOUND, STORAGE_ERROR.STREAM_NOT_FOUND, name, "Not found");
      }
      if (stream.finalized) {
        counts.refused++;
        const why = "Stream is finalized (stand-in)";
        return storageError(CODE.FAILED_PRECONDITION, STORAGE_ERROR.STREAM_FINALIZED, name, why);
      }
      const offset = request.offset ?? stream.rows;
      if (offset < stream.rows) {
        counts.refused++;
        const why = `Offset ${offset} is below the stream's end ${stream.rows} (stand-in)`;
        return storageError(CODE.ALREADY_EXISTS, STORAGE_ERROR.OFFSET_EXISTS, name, why);
      }
      if (offset > stream.rows) {
        counts.refused++;
        const why = `Offset ${offset} is past the stream's end ${stream.rows} (stand-in)`;
        return storageError(CODE.OUT_OF_RANGE, STORAGE_ERROR.OFFSET_OOR, name, why);
      }
      stream.rows += request.rows;
      counts.rows += request.rows;
      return message([1, message([1, message([1, offset])])], [5, name]);
    },
  };
}

/** A running stand-in. */
export interface StorageStandin {
  /** `127.0.0.1:port`, for the consumer's `--storage-emulator-host`. */
  readonly address: string;
  readonly counts: StandinState["counts"];
  close(): Promise<void>;
}

const same = (bytes: Buffer) => bytes;
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

function definition(method: string, streaming: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: SERVICE + method,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: same,
    requestDeserialize: same,
    responseSerialize: same,
    responseDeserialize: same,
  };
}

/** The first string field `number` of a message, or "". */
function stringField(bytes: Uint8Array, number: number): string {
  for (const field of fields(bytes)) if (field.number === number) return text(field);
  return "";
}

/**
 * Starts a stand-in on `port` of the loopback address (0: a free one). The
 * gRPC library loads here, not with the module (it reads its environment
 * when loaded).
 */
export async function startStorageStandin(port = 0): Promise<StorageStandin> {
  const grpc = await import("@grpc/grpc-js");
  const state = createStandinState();
  const server = new grpc.Server();
  const notFound = (name: string) =>
    Object.assign(new Error(`Requested entity was not found: ${name}`), {
      code: grpc.status.NOT_FOUND,
      details: `Requested entity was not found: ${name} (stand-in)`,
    });
  const unary = (answer: (request: Uint8Array) => Uint8Array | string) =>
  (
    call: grpc.ServerUnaryCall<Buffer, Buffer>,
    callback: grpc.sendUnaryData<Buffer>,
  ) => {
    const result = answer(call.request);
    if (typeof result === "string") callback(notFound(result), null);
    else callback(null, asBuffer(result));
  };
  const handlers: grpc.UntypedServiceImplementation = {
    CreateWriteStream: unary((request) => {
      let table = "";
      let type = 1;
      for (const field of fields(request)) {
        if (field.number === 1) table = text(field);
        if (field.number === 2 && field.bytes !== undefined) {
          for (const inner of fields(field.bytes)) if (inner.number === 2) type = inner.varint;
        }
      }
      return state.create(table, type);
    }),
    GetWriteStream: unary((request) => {
      const name = stringField(request, 1);
      return state.get(name) ?? name;
    }),
    FinalizeWriteStream: unary((request) => {
      const name = stringField(request, 1);
      return state.finalize(name) ?? name;
    }),
    AppendRows: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      let stream = "";
      call.on("data", (bytes: Buffer) => {
        const request = readAppend(bytes);
        stream = request.stream ?? stream;
        call.write(asBuffer(state.append(request, stream)));
      });
      call.on("end", () => call.end());
      call.on("error", () => {});
    },
  };
  const service: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {
    CreateWriteStream: definition("CreateWriteStream", false),
    GetWriteStream: definition("GetWriteStream", false),
    FinalizeWriteStream: definition("FinalizeWriteStream", false),
    AppendRows: definition("AppendRows", true),
  };
  server.addService(service, handlers);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, actual) => error ? reject(error) : resolve(actual),
    )
  );
  return {
    address: `127.0.0.1:${bound}`,
    counts: state.counts,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

if (import.meta.main) {
  const standin = await startStorageStandin(Number(Deno.args[0] ?? 0));
  console.log(`Storage Write stand-in (stores nothing) on ${standin.address}`);
  Deno.addSignalListener("SIGINT", async () => {
    console.log(JSON.stringify(standin.counts));
    await standin.close();
    Deno.exit(0);
  });
}
