import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import Encoder from "kafkajs/src/protocol/encoder.js";
import Long from "kafkajs/src/utils/long.js";
import { installFastVarints, type VarintWriters } from "../../shared/kafka/encoder_patch.ts";

const originals = installFastVarints();

type AnEncoder = ThisParameterType<VarintWriters["writeUVarInt"]>;

/** Bytes written by `write` on a fresh kafkajs Encoder. */
function bytes(write: (encoder: AnEncoder) => void): number[] {
  const encoder = new Encoder();
  write(encoder);
  return [...encoder.buffer];
}

const INT32 = [
  0,
  1,
  -1,
  63,
  -64,
  64,
  127,
  128,
  300,
  -300,
  16_383,
  16_384,
  2_097_151,
  2_097_152,
  268_435_455,
  268_435_456,
  0x3fffffff,
  -0x40000000,
  0x40000000,
  2_147_483_647,
  -2_147_483_648,
];

Deno.test("installFastVarints() writes the same unsigned varints as kafkajs", () => {
  assert.notEqual(Encoder.prototype.writeUVarInt, originals.writeUVarInt, "installed");
  const unsigned = [...INT32, 4_294_967_295, 0xffffff80, 0x80000000];
  for (const value of unsigned) {
    assert.deepEqual(
      bytes((e) => Encoder.prototype.writeUVarInt.call(e, value)),
      bytes((e) => originals.writeUVarInt.call(e, value)),
      `writeUVarInt(${value})`,
    );
  }
});

Deno.test("installFastVarints() writes the same zigzag varints (writeVarInt) as kafkajs", () => {
  for (const value of INT32) {
    const patched = bytes((e) => Encoder.prototype.writeVarInt.call(e, value));
    const original = bytes((e) => originals.writeUVarInt.call(e, Encoder.encodeZigZag(value)));
    assert.deepEqual(patched, original, `writeVarInt(${value})`);
  }
});

Deno.test("installFastVarints() writes the same 64-bit varints as kafkajs", () => {
  const values: unknown[] = [
    ...INT32,
    2 ** 40,
    -(2 ** 40),
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    1_764_012_133_000, // an epoch time in ms
    "12345",
    Long.fromString("-9223372036854775808"),
    Long.fromNumber(42),
  ];
  for (const value of values) {
    assert.deepEqual(
      bytes((e) => Encoder.prototype.writeVarLong.call(e, value)),
      bytes((e) => originals.writeVarLong.call(e, value)),
      `writeVarLong(${String(value)})`,
    );
  }
});

Deno.test("installFastVarints() keeps appending after earlier writes and grows the buffer", () => {
  const encoder = new Encoder(1);
  for (let i = 0; i < 1_000; i++) encoder.writeVarInt(i * 1_001).writeVarLong(-i);
  const expected = new Encoder(1);
  for (let i = 0; i < 1_000; i++) {
    originals.writeUVarInt.call(expected, Encoder.encodeZigZag(i * 1_001));
    originals.writeVarLong.call(expected, -i);
  }
  assert.deepEqual([...encoder.buffer], [...expected.buffer]);
});

Deno.test("installFastVarints() copies byte arrays and grows the buffer keeping what was written", () => {
  const encoder = new Encoder(7); // 8 bytes to start: grows several times
  const chunks = [1, 9, 31, 200, 1_000, 4_097].map((length, n) =>
    Uint8Array.from({ length }, (_, i) => (i * 7 + n) & 0xff)
  );
  const expected: number[] = [];
  for (const chunk of chunks) {
    encoder.writeVarIntBytes(Buffer.from(chunk));
    expected.push(...bytes((e) => Encoder.prototype.writeVarInt.call(e, chunk.length)), ...chunk);
  }
  assert.deepEqual([...encoder.buffer], expected);
  assert.equal(encoder.buf.length, 8_192, "grown to the next power of two");
});
