/**
 * Record batches encoded faster, installed by `installKafkaPatches()`
 * (install_patches.ts), which the entry scripts call:
 *
 * - kafkajs 2.2.4 checksums every record batch a byte at a time in
 *   JavaScript (about 440 MB/s here; 11 % of the producer's CPU profile).
 *   hash-wasm's CRC32 over the Castagnoli polynomial is the same checksum in
 *   WebAssembly (about 2,100 MB/s on the same 850 kB batch).
 * - kafkajs encodes each record into an encoder of its own, a zero-filled
 *   512-byte `Buffer` (5 % of the producer's profile, most of it the
 *   runtime's `Buffer` construction). A record of bytes without headers, the
 *   only kind livecharts sends, is written here into a shared 1 MB block
 *   instead, as the same bytes; any other record is left to kafkajs.
 *
 * kafkajs' record batch modules take these two functions from their own
 * modules when first loaded (on the first fetch or produce request), so the
 * patch replaces what those modules export before then. The broker checks every
 * batch's checksum and refuses a wrong one, so a publish that is
 * acknowledged proves the bytes; tests/integration/kafka_encoder_patch_test.ts
 * publishes through both and counts what went through them
 * ({@linkcode fastBatchCounts}); tests/unit/kafka_batch_patch_test.ts
 * compares the records byte for byte with kafkajs'.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCRC32 } from "hash-wasm";
import Encoder from "kafkajs/src/protocol/encoder.js";
import { replaceExports } from "./kafkajs_modules.ts";

/** CRC32C's polynomial (Castagnoli), reversed, as hash-wasm takes it. */
const CASTAGNOLI = 0x82f63b78;

/** kafkajs' modules, relative to its protocol folder. */
const CRC_MODULE = "./recordBatch/crc32C/index.js";
const RECORD_MODULE = "./recordBatch/record/v0/index.js";

/** The patch, as errors name it. */
const PURPOSE = "the fast record batches";

/** Records are written into blocks of this size (a larger record gets its own). */
const BLOCK_BYTES = 1 << 20;

/** Largest magnitude of a delta written here (zigzag fits 31 bits, as in 64). */
const DELTA_LIMIT = 0x40000000;

// Created once, when this module loads (WebAssembly is compiled
// asynchronously); used synchronously afterwards, one batch at a time.
const hasher = await createCRC32(CASTAGNOLI);

/** The fields of a record, as kafkajs' produce request passes them. */
export interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: unknown;
}

/** What kafkajs' record batch encoder reads of a record: its bytes in `buf`, before `offset`. */
export interface EncodedRecord {
  buf: Buffer;
  /** Where the record starts in `buf` (0 for kafkajs' own encoders). */
  start?: number;
  offset: number;
  readonly buffer: Buffer;
}

/** kafkajs' own functions, as they were before the patch. */
export interface BatchFunctions {
  crc32C(bytes: Uint8Array): number;
  /** kafkajs' encoder of the record (its bytes are its `buffer`). */
  record(fields: RecordFields): unknown;
}

const counts = { batches: 0, records: 0 };
let originals: BatchFunctions | undefined;

/**
 * CRC32C of `bytes`, as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32c } from "./batch_patch.ts";
 * assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
 * assert.equal(crc32c(new Uint8Array(0)), 0);
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  hasher.init();
  hasher.update(bytes);
  const digest = hasher.digest("binary");
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
}

/** Encoders' prototype, with `buffer` read from the record's own start. */
const RECORD_PROTOTYPE: object = Object.create(Encoder.prototype, {
  buffer: {
    get(this: Required<EncodedRecord>) {
      return this.buf.subarray(this.start, this.offset);
    },
  },
});

// The first block is made by the first record: a process that never
// produces holds none.
let block = Buffer.allocUnsafe(0);
let used = 0;

/** Bytes of `value` as a zigzag varint (kafkajs' `sizeOfVarInt`). */
function varIntSize(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigzag >= 0x80) {
    bytes++;
    zigzag >>>= 7;
  }
  return bytes;
}

function writeVarInt(into: Buffer, at: number, value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    into[at++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  into[at++] = zigzag;
  return at;
}

function isSmallInteger(value: unknown): value is number {
  return Number.isInteger(value) && Math.abs(Number(value)) < DELTA_LIMIT;
}

function hasNoHeaders(headers: unknown): boolean {
  if (headers === undefined) return true;
  if (typeof headers !== "object" || headers === null) return false;
  for (const _ in headers) return false;
  return true;
}

/**
 * The record kafkajs' `Record` (v0) would encode, written into a shared
 * block; `undefined` unless key and value are each a `Buffer` or null, there
 * are no headers and both deltas are small integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Buffer } from "node:buffer";
 * import { writeRecord } from "./batch_patch.ts";
 * const record = writeRecord({ offsetDelta: 1, timestampDelta: 0, key: null, value: Buffer.from("hi") });
 * // zigzag varints: length 8, then attributes, timestamp delta 0, offset delta 1,
 * // no key (-1), a value of 2 bytes, no headers
 * assert.deepEqual([...record!.buffer], [16, 0, 0, 2, 1, 4, 104, 105, 0]);
 * assert.equal(writeRecord({ key: "text", value: null }), undefined);
 * ```
 */
export function writeRecord(fields: RecordFields): EncodedRecord | undefined {
  const { offsetDelta = 0, timestampDelta = 0, key, value, headers } = fields;
  if (
    !isSmallInteger(offsetDelta) || !isSmallInteger(timestampDelta) || !hasNoHeaders(headers)
  ) return undefined;
  const keyBytes = key === null || key === undefined ? null : key;
  const valueBytes = value === null || value === undefined ? null : value;
  if (keyBytes !== null && !Buffer.isBuffer(keyBytes)) return undefined;
  if (valueBytes !== null && !Buffer.isBuffer(valueBytes)) return undefined;
  const keySize = keyBytes === null ? 1 : varIntSize(keyBytes.length) + keyBytes.length;
  const valueSize = valueBytes === null ? 1 : varIntSize(valueBytes.length) + valueBytes.length;
  // attributes, deltas, key, value, and the header count (0)
  const body = 1 + varIntSize(timestampDelta) + varIntSize(offsetDelta) + keySize + valueSize + 1;
  const size = varIntSize(body) + body;
  if (used + size > block.length) {
    block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
    used = 0;
  }
  const into = block;
  const start = used;
  let at = writeVarInt(into, start, body);
  into[at++] = 0; // no record attributes
  at = writeVarInt(into, at, timestampDelta);
  at = writeVarInt(into, at, offsetDelta);
  if (keyBytes === null) at = writeVarInt(into, at, -1);
  else {
    at = writeVarInt(into, at, keyBytes.length);
    into.set(keyBytes, at);
    at += keyBytes.length;
  }
  if (valueBytes === null) at = writeVarInt(into, at, -1);
  else {
    at = writeVarInt(into, at, valueBytes.length);
    into.set(valueBytes, at);
    at += valueBytes.length;
  }
  into[at++] = 0; // no headers
  used = at;
  const record: EncodedRecord = Object.create(RECORD_PROTOTYPE);
  record.buf = into;
  record.start = start;
  record.offset = at;
  return record;
}

/**
 * Record batches checksummed and records written by the installed functions
 * so far (0 before {@linkcode installFastBatches}): proof that publishing
 * goes through them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fastBatchCounts } from "./batch_patch.ts";
 * assert.equal(typeof fastBatchCounts().records, "number");
 * ```
 */
export function fastBatchCounts(): { batches: number; records: number } {
  return { ...counts };
}

/**
 * Makes kafkajs checksum record batches with {@linkcode crc32c} and write
 * records with {@linkcode writeRecord} (once; later calls do nothing), and
 * returns kafkajs' own functions. A kafkajs module loaded before this keeps
 * the function it took (a fetch loads the record batch module, a produce
 * request both): correct, only slower. Each entry script installs this
 * before it connects, so it never happens there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installFastBatches } from "./batch_patch.ts";
 * const kafkajs = installFastBatches();
 * assert.equal(installFastBatches(), kafkajs);
 * assert.equal(kafkajs.crc32C(new TextEncoder().encode("123456789")), 0xe3069283);
 * ```
 */
export function installFastBatches(): BatchFunctions {
  if (originals !== undefined) return originals;
  const crc = replaceExports(PURPOSE, CRC_MODULE, () => (bytes: Uint8Array) => {
    counts.batches++;
    return crc32c(bytes);
  });
  const record = replaceExports(PURPOSE, RECORD_MODULE, (kafkajs) => (fields: RecordFields) => {
    const written = writeRecord(fields);
    if (written === undefined) return kafkajs(fields);
    counts.records++;
    return written;
  });
  originals = { crc32C: (bytes) => Number(crc(bytes)), record };
  return originals;
}
