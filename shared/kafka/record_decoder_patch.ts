/**
 * Fetched records decoded with plain numbers, installed by
 * `installKafkaPatches()` (install_patches.ts), which the entry scripts call.
 *
 * kafkajs 2.2.4 decodes each fetched record's timestamp and offset through
 * its 64-bit `Long` (a `BigInt` in an object): the varlong timestamp delta
 * byte by byte, then the batch's first timestamp and first offset parsed
 * from text, added to and written back as text. That is about thirty
 * short-lived objects per record, more than everything else a record needs,
 * and on a consumer they outlive a young-generation collection with the rest
 * of the fetch, so they are promoted and collected by full collections.
 *
 * The decoder installed here reads a record with numbers into a
 * {@linkcode FetchedRecord}, which keeps the positions of its key and value
 * and its offset and timestamp as numbers, and makes kafkajs' fields (the
 * same bytes, the same decimal text) when they are read. It does so when
 * they are exact as numbers: the batch's offsets and the record's timestamp
 * within 2^53 and a timestamp delta of at most 7 varint bytes. A record with
 * headers, or any record outside those bounds, is decoded by kafkajs itself
 * from its first byte, so the result never differs.
 * tests/unit/kafka_record_decoder_patch_test.ts compares both decoders on
 * the same bytes; tests/integration/kafka_encoder_patch_test.ts reads
 * through it from the broker ({@linkcode fastRecordCounts}).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { replaceExports } from "./kafkajs_modules.ts";

/** kafkajs' record decoder module, relative to its protocol folder. */
const RECORD_DECODER_MODULE = "./recordBatch/record/v0/decoder.js";

/** kafkajs' `TimestampTypes.LOG_APPEND_TIME`. */
const LOG_APPEND_TIME = 1;

/** What the decoder reads of kafkajs' `Decoder` over one record's bytes. */
export interface RecordBytes {
  buffer: Uint8Array;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
}

/** What kafkajs' record batch decoder passes along with each record. */
export interface RecordBatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  maxTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
}

/** A record decoder: kafkajs' or the one installed here. */
export type RecordDecoder = (bytes: RecordBytes, context?: RecordBatchContext) => unknown;

/** The batch whose numbers were read last (a batch's records come one after another). */
interface BatchNumbers {
  context: RecordBatchContext | undefined;
  firstOffset: number;
  firstTimestamp: number;
  /** False when the batch's offsets or first timestamp are not exact as numbers. */
  exact: boolean;
}

const last: BatchNumbers = { context: undefined, firstOffset: 0, firstTimestamp: 0, exact: false };
const counts = { records: 0, byKafkajs: 0 };

function batchNumbers(context: RecordBatchContext): BatchNumbers {
  if (last.context === context) return last;
  last.context = context;
  const firstOffset = Number(context.firstOffset);
  const firstTimestamp = Number(context.firstTimestamp);
  last.firstOffset = firstOffset;
  last.firstTimestamp = firstTimestamp;
  last.exact = Number.isSafeInteger(firstOffset) && firstOffset >= 0 &&
    Number.isSafeInteger(firstOffset + 0x7fffffff) &&
    Number.isSafeInteger(firstTimestamp) &&
    String(firstOffset) === context.firstOffset &&
    String(firstTimestamp) === context.firstTimestamp;
  return last;
}

/**
 * Reads a zigzag varlong of at most 7 bytes (magnitude below 2^48) as a
 * number; `undefined` (the position then undefined too) for a longer one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readShortVarLong } from "./record_decoder_patch.ts";
 * const at = (bytes: number[]) => ({ buffer: new Uint8Array(bytes), offset: 0 });
 * assert.equal(readShortVarLong(at([0x00])), 0);
 * assert.equal(readShortVarLong(at([0x01])), -1);
 * assert.equal(readShortVarLong(at([0xac, 0x02])), 150);
 * assert.equal(readShortVarLong(at([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), undefined);
 * ```
 */
export function readShortVarLong(
  bytes: { buffer: Uint8Array; offset: number },
): number | undefined {
  const { buffer } = bytes;
  let zigzag = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const byte = buffer[bytes.offset++];
    if (byte === undefined) return undefined;
    zigzag += (byte & 0x7f) * scale;
    if (byte < 0x80) return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    scale *= 0x80;
  }
  return undefined;
}

/**
 * A fetched record without headers, as kafkajs' consumer and livecharts
 * read it: the same fields as kafkajs' record object, the bytes and numbers
 * kept and each field made when read (`key` and `value` are views of the
 * fetched bytes, `offset` and `timestamp` decimal text). Its fields are
 * getters: read them, never copy the record by spreading it.
 */
export class FetchedRecord {
  readonly #bytes: ArrayBufferLike;
  readonly #keyAt: number;
  readonly #keyLength: number;
  readonly #valueAt: number;
  readonly #valueLength: number;
  readonly #timestamp: number;
  readonly #offset: number;
  readonly attributes: number;
  readonly batchContext: RecordBatchContext;

  /** Made once per fetched record: positional, so nothing else is allocated with it. */
  constructor(
    bytes: ArrayBufferLike,
    keyAt: number,
    keyLength: number,
    valueAt: number,
    valueLength: number,
    attributes: number,
    timestamp: number,
    offset: number,
    batchContext: RecordBatchContext,
  ) {
    this.#bytes = bytes;
    this.#keyAt = keyAt;
    this.#keyLength = keyLength;
    this.#valueAt = valueAt;
    this.#valueLength = valueLength;
    this.#timestamp = timestamp;
    this.#offset = offset;
    this.attributes = attributes;
    this.batchContext = batchContext;
  }

  get magicByte(): number | undefined {
    return this.batchContext.magicByte;
  }
  get isControlRecord(): boolean {
    return this.batchContext.isControlBatch ?? false;
  }
  get headers(): Readonly<Record<string, never>> {
    return NO_HEADERS;
  }
  get timestamp(): string {
    return String(this.#timestamp);
  }
  get offset(): string {
    return String(this.#offset);
  }
  get key(): Buffer | null {
    return this.#keyLength < 0 ? null : Buffer.from(this.#bytes, this.#keyAt, this.#keyLength);
  }
  /** The value's length in bytes (0 for none), without making it. */
  get valueLength(): number {
    return Math.max(this.#valueLength, 0);
  }
  get value(): Buffer | null {
    return this.#valueLength < 0
      ? null
      : Buffer.from(this.#bytes, this.#valueAt, this.#valueLength);
  }
}

const NO_HEADERS: Readonly<Record<string, never>> = Object.freeze({});

/**
 * Skips a varint-length byte field and returns its length (-1: null), or -2
 * when it runs past the record; its bytes end where `bytes.offset` is left.
 */
function skipBytes(bytes: RecordBytes): number {
  const length = bytes.readVarInt();
  if (length < 0) return -1;
  if (bytes.offset + length > bytes.buffer.length) return -2;
  bytes.offset += length;
  return length;
}

/**
 * Decodes one record into a {@linkcode FetchedRecord} with numbers where
 * they are exact; `undefined` when kafkajs must decode it (headers,
 * log-append time, numbers past 2^53; the position is then wherever
 * reading stopped).
 */
export function decodeRecordFast(
  bytes: RecordBytes,
  context: RecordBatchContext,
): FetchedRecord | undefined {
  const batch = batchNumbers(context);
  if (!batch.exact || context.timestampType === LOG_APPEND_TIME) return undefined;
  const attributes = bytes.readInt8();
  const timestampDelta = readShortVarLong(bytes);
  if (timestampDelta === undefined) return undefined;
  const offsetDelta = bytes.readVarInt();
  const base = bytes.buffer.byteOffset;
  const keyLength = skipBytes(bytes);
  const keyAt = base + bytes.offset - Math.max(keyLength, 0);
  const valueLength = keyLength === -2 ? -2 : skipBytes(bytes);
  const valueAt = base + bytes.offset - Math.max(valueLength, 0);
  if (valueLength === -2 || bytes.readVarInt() > 0) return undefined;
  const timestamp = batch.firstTimestamp + timestampDelta;
  if (!Number.isSafeInteger(timestamp)) return undefined;
  return new FetchedRecord(
    bytes.buffer.buffer,
    keyAt,
    keyLength,
    valueAt,
    valueLength,
    attributes,
    timestamp,
    batch.firstOffset + offsetDelta,
    context,
  );
}

/**
 * Records decoded so far by the installed decoder, and those it left to
 * kafkajs: proof that fetching goes through it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fastRecordCounts } from "./record_decoder_patch.ts";
 * assert.equal(typeof fastRecordCounts().records, "number");
 * ```
 */
export function fastRecordCounts(): { records: number; byKafkajs: number } {
  return { ...counts };
}

let original: RecordDecoder | undefined;

/**
 * Makes kafkajs decode fetched records with {@linkcode decodeRecordFast}
 * (once; later calls do nothing), and returns kafkajs' own record decoder.
 * kafkajs' record batch decoder takes the record decoder when it first
 * loads, on the first fetch; each entry script installs this before it
 * connects. A batch decoder loaded before keeps kafkajs' own: correct, only
 * slower.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installFastRecordDecoder } from "./record_decoder_patch.ts";
 * const kafkajs = installFastRecordDecoder();
 * assert.equal(installFastRecordDecoder(), kafkajs);
 * ```
 */
export function installFastRecordDecoder(): RecordDecoder {
  if (original !== undefined) return original;
  const kafkajs = replaceExports(
    "the fast record decoder",
    RECORD_DECODER_MODULE,
    (kafkajs) => (bytes: RecordBytes, context: RecordBatchContext = {}) => {
      const start = bytes.offset;
      const record = decodeRecordFast(bytes, context);
      if (record !== undefined) {
        counts.records++;
        return record;
      }
      counts.byKafkajs++;
      bytes.offset = start;
      return kafkajs(bytes, context);
    },
  );
  original = kafkajs;
  return original;
}
