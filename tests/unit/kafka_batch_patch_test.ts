import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import Encoder from "kafkajs/src/protocol/encoder.js";
import {
  crc32c,
  installFastBatches,
  type RecordFields,
  writeRecord,
} from "../../shared/kafka/batch_patch.ts";
import { installFastVarints } from "../../shared/kafka/encoder_patch.ts";

installFastVarints();
const kafkajs = installFastBatches();

/** The bytes of a kafkajs encoder (or a record written by the patch). */
function bytesOf(encoder: unknown): number[] {
  const buffer: unknown = Reflect.get(Object(encoder), "buffer");
  assert.ok(buffer instanceof Uint8Array, "an encoder has its bytes in `buffer`");
  return [...buffer];
}

const KEYS: unknown[] = [
  null,
  undefined,
  Buffer.alloc(0),
  Buffer.from("tony-allen/1"),
  Buffer.alloc(300, 7), // a length of two varint bytes
];
const DELTAS = [0, 1, -1, 63, 64, -65, 8_191, 8_192, 1_000_000, -1_000_000, 0x3fffffff];

Deno.test("writeRecord() writes the bytes of kafkajs' Record for every key, value and delta", () => {
  let compared = 0;
  for (const key of KEYS) {
    for (const value of KEYS) {
      for (const delta of DELTAS) {
        const fields: RecordFields = {
          key,
          value,
          offsetDelta: Math.abs(delta),
          timestampDelta: delta,
        };
        const written = writeRecord(fields);
        assert.ok(written !== undefined, `written: ${JSON.stringify(fields)}`);
        assert.deepEqual(
          [...written.buffer],
          bytesOf(kafkajs.record(fields)),
          JSON.stringify(fields),
        );
        compared++;
      }
    }
  }
  assert.equal(compared, KEYS.length * KEYS.length * DELTAS.length);
  const defaults = writeRecord({ key: null, value: Buffer.from("x") });
  assert.deepEqual(
    defaults && [...defaults.buffer],
    bytesOf(kafkajs.record({ key: null, value: Buffer.from("x") })),
  );
});

Deno.test("writeRecord() leaves to kafkajs what it does not write the same way", () => {
  const value = Buffer.from("{}");
  for (
    const fields of [
      { key: "text", value },
      { key: null, value: "text" },
      { key: null, value: new Uint8Array(2) }, // not a Buffer: kafkajs writes its text
      { key: null, value, headers: { reason: "bad" } },
      { key: null, value, timestampDelta: 2 ** 40 },
      { key: null, value, offsetDelta: 0x40000000 },
      { key: null, value, timestampDelta: 1.5 },
    ] satisfies RecordFields[]
  ) {
    assert.equal(writeRecord(fields), undefined, JSON.stringify(fields));
  }
  assert.ok(writeRecord({ key: null, value, headers: {} }), "empty headers are written");
});

Deno.test("records written into the shared blocks stay intact as later ones are written", () => {
  const records = Array.from({ length: 9_000 }, (_, i) => {
    const fields = {
      key: Buffer.from(`key-${i}`),
      value: Buffer.alloc(200 + (i % 50), i & 0xff),
      offsetDelta: i,
    };
    return { fields, record: writeRecord(fields) };
  }); // about 2 MB: more than one block
  for (const { fields, record } of records) {
    assert.deepEqual(record && [...record.buffer], bytesOf(kafkajs.record(fields)));
  }
  // A batch copies them out with the patched writeEncoderArray, mixed with kafkajs' own.
  const mixed = [records[0]!.record, kafkajs.record(records[1]!.fields), records[8_999]!.record];
  const batch = new Encoder().writeArray(mixed, "object");
  const expected = new Encoder().writeInt32(3);
  for (const record of mixed) expected.writeBuffer(Buffer.from(bytesOf(record)));
  assert.deepEqual(bytesOf(batch), bytesOf(expected));
});

Deno.test("crc32c() equals kafkajs' CRC32C on batches of every size", () => {
  for (const length of [0, 1, 7, 8, 9, 63, 64, 65, 1_000, 65_537, 524_288]) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 2_654_435_761) >>> 13);
    assert.equal(crc32c(bytes), kafkajs.crc32C(bytes), `${length} bytes`);
  }
});
