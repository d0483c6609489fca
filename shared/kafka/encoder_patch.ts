/**
 * Faster varint writers for kafkajs's protocol `Encoder`, installed by
 * `installKafkaPatches()` (install_patches.ts), which the entry scripts call.
 *
 * kafkajs 2.2.4 builds a `Buffer` from an array for every varint it writes
 * (several per record) and a `Long` for every 64-bit one. Under Deno's
 * `Buffer` polyfill that was the largest single cost of the producer (CPU
 * profile: ~11 % in `Buffer.from` called by `writeUVarInt`, ~7 % in long.js).
 * These versions write the same bytes straight into the encoder's buffer,
 * and byte arrays are copied into it with the typed array's own copy (the
 * polyfill's `Buffer#copy` and zero-filled growth cost ~5 % of the
 * producer's CPU time);
 * tests/integration/kafka_encoder_patch_test.ts checks them byte for byte against
 * kafkajs's own methods, and tests/integration/kafka_encoder_patch_test.ts fails when
 * publishing no longer goes through them ({@linkcode fastVarintWrites}).
 * kafkajs is pinned to exactly 2.2.4 in deno.json, since this targets its
 * internals.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import Encoder from "kafkajs/src/protocol/encoder.js";

/** The part of kafkajs's `Encoder` the writers use. */
interface EncoderLike {
  buf: Uint8Array;
  /** Where the bytes start in `buf`: 0, except for records written by batch_patch.ts. */
  start?: number;
  offset: number;
  ensureAvailable(length: number): void;
}

/** kafkajs's original methods, kept for values the fast paths do not cover. */
export interface VarintWriters {
  writeUVarInt(this: EncoderLike, value: number): EncoderLike;
  writeVarLong(this: EncoderLike, value: unknown): EncoderLike;
}

/** Largest magnitude whose zigzag encoding fits a 31-bit integer. */
const FAST_LONG_LIMIT = 0x40000000;

let originals: VarintWriters | undefined;
let writes = 0;

/**
 * How many varints the installed writers have written so far (0 before
 * {@linkcode installFastVarints}): proof that encoding goes through them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import Encoder from "kafkajs/src/protocol/encoder.js";
 * import { fastVarintWrites, installFastVarints } from "./encoder_patch.ts";
 * installFastVarints();
 * const before = fastVarintWrites();
 * new Encoder().writeUVarInt(300);
 * assert.equal(fastVarintWrites(), before + 1);
 * ```
 */
export function fastVarintWrites(): number {
  return writes;
}

/**
 * Whether {@linkcode installFastVarints} has run (`installKafkaPatches()` runs it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fastVarintsInstalled, installFastVarints } from "./encoder_patch.ts";
 * installFastVarints();
 * assert.equal(fastVarintsInstalled(), true);
 * ```
 */
export function fastVarintsInstalled(): boolean {
  return originals !== undefined;
}

/**
 * Replaces `writeUVarInt` and `writeVarLong` on kafkajs's `Encoder` (once;
 * later calls do nothing) and returns kafkajs's originals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installFastVarints } from "./encoder_patch.ts";
 * assert.equal(installFastVarints(), installFastVarints());
 * ```
 */
export function installFastVarints(): VarintWriters {
  if (originals !== undefined) return originals;
  const prototype: VarintWriters = Encoder.prototype;
  const kept: VarintWriters = {
    writeUVarInt: prototype.writeUVarInt,
    writeVarLong: prototype.writeVarLong,
  };
  // Same loop as kafkajs (LEB128 of the value's 32 bits), without the array
  // and the Buffer made from it.
  prototype.writeUVarInt = function (value: number) {
    writes++;
    this.ensureAvailable(5);
    while ((value & 0xffffff80) !== 0) {
      this.buf[this.offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.offset++] = value & 0x7f;
    return this;
  };
  // Small integers (timestamp deltas) zigzag-encode to the same varint in
  // 32 bits as in 64; anything else goes through kafkajs's Long version.
  prototype.writeVarLong = function (value: unknown) {
    if (
      typeof value === "number" && Number.isInteger(value) &&
      value > -FAST_LONG_LIMIT && value < FAST_LONG_LIMIT
    ) {
      return prototype.writeUVarInt.call(this, value >= 0 ? value * 2 : -value * 2 - 1);
    }
    return kept.writeVarLong.call(this, value);
  };
  // Bytes copied with the typed array's own copy instead of the Buffer
  // polyfill's, and grown buffers not zero-filled first (everything up to
  // `offset` is written before it is read; `buffer` ends there).
  const copying = Encoder.prototype as unknown as {
    buf: Uint8Array;
    offset: number;
    writeBufferInternal(buffer: Uint8Array): void;
    ensureAvailable(length: number): void;
  };
  copying.ensureAvailable = function (length: number) {
    if (this.offset + length <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(nextPowerOfTwo(this.offset + length));
    grown.set(this.buf.subarray(0, this.offset));
    this.buf = grown;
  };
  copying.writeBufferInternal = function (buffer: Uint8Array) {
    this.ensureAvailable(buffer.length);
    this.buf.set(buffer, this.offset);
    this.offset += buffer.length;
  };
  // A record batch's records (one encoder each) are copied into a buffer
  // grown once to their total, instead of doubled a dozen times on the way
  // to a batch of 4,000 records; each record is read where it was written
  // (kafkajs' `buffer` makes a Buffer per record to copy it).
  const arrays = Encoder.prototype as unknown as {
    writeEncoderArray(this: EncoderLike, value: unknown): EncoderLike;
  };
  const keptArrays = arrays.writeEncoderArray;
  arrays.writeEncoderArray = function (value: unknown) {
    if (!Array.isArray(value) || !value.every(isEncoder)) {
      return keptArrays.call(this, value);
    }
    let total = 0;
    for (const encoder of value) total += encoder.offset - (encoder.start ?? 0);
    this.ensureAvailable(total);
    for (const encoder of value) {
      const start = encoder.start ?? 0;
      const length = encoder.offset - start;
      this.buf.set(
        new Uint8Array(encoder.buf.buffer, encoder.buf.byteOffset + start, length),
        this.offset,
      );
      this.offset += length;
    }
    return this;
  };
  originals = kept;
  return kept;
}

/** Whether `value` is one of kafkajs' encoders (a Buffer and how much of it is written). */
function isEncoder(value: unknown): value is EncoderLike {
  if (typeof value !== "object" || value === null || !(value instanceof Encoder)) return false;
  return Buffer.isBuffer(Reflect.get(value, "buf")) &&
    Number.isSafeInteger(Reflect.get(value, "offset"));
}

function nextPowerOfTwo(value: number): number {
  return 1 << (32 - Math.clz32(value));
}
