import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import Decoder from "kafkajs/src/protocol/decoder.js";
import { installFastBatches } from "../../shared/kafka/batch_patch.ts";
import {
  decodeRecordFast,
  FetchedRecord,
  installFastRecordDecoder,
  type RecordBatchContext,
} from "../../shared/kafka/record_decoder_patch.ts";

const kafkajsRecord = installFastBatches().record;
const kafkajsDecode = installFastRecordDecoder();

/** The bytes of one record as a fetch holds them, after its length (kafkajs' own encoder). */
function recordBytes(fields: Parameters<typeof kafkajsRecord>[0]): InstanceType<typeof Decoder> {
  const encoder: unknown = kafkajsRecord(fields);
  const buffer: unknown = Reflect.get(Object(encoder), "buffer");
  assert.ok(buffer instanceof Uint8Array);
  // Inside a larger fetch buffer, as the broker's answer is.
  const fetch = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(buffer), Buffer.from([7])]);
  const outer = new Decoder(fetch);
  outer.offset = 3;
  return new Decoder(outer.readVarIntBytes());
}

/** Every field of a record, read one by one, as the consumer reads them. */
function fieldsOf(record: unknown): Record<string, unknown> {
  const read = (name: string): unknown => Reflect.get(Object(record), name);
  const bytes = (name: string) => {
    const value = read(name);
    return value instanceof Uint8Array ? `bytes ${Buffer.from(value).toString("hex")}` : value;
  };
  return {
    magicByte: read("magicByte"),
    attributes: read("attributes"),
    timestamp: read("timestamp"),
    offset: read("offset"),
    key: bytes("key"),
    value: bytes("value"),
    headers: JSON.stringify(read("headers")),
    isControlRecord: read("isControlRecord"),
    batchContext: read("batchContext"),
  };
}

const VALUES: (Buffer | null)[] = [
  null,
  Buffer.alloc(0),
  Buffer.from('{"song_id":1}'),
  Buffer.alloc(300, 7),
];
const DELTAS = [0, 1, -1, 63, 64, 8_192, -1_000_000, 0x3fffffff, 2 ** 40, -(2 ** 47) + 1];
const CONTEXTS: RecordBatchContext[] = [
  { firstOffset: "0", firstTimestamp: "1733500000000", magicByte: 2, timestampType: 0 },
  {
    firstOffset: "123456789012",
    firstTimestamp: "-1",
    magicByte: 2,
    isControlBatch: true,
    timestampType: 0,
  },
  { firstOffset: "5", firstTimestamp: "0", magicByte: 2 },
];

Deno.test("the fast record decoder reads every field as kafkajs does", () => {
  let compared = 0;
  for (const context of CONTEXTS) {
    for (const key of VALUES) {
      for (const value of VALUES) {
        for (const delta of DELTAS) {
          const fields = { key, value, offsetDelta: compared % 1_000, timestampDelta: delta };
          const fast = recordBytes(fields);
          const record = decodeRecordFast(fast, context);
          assert.ok(record instanceof FetchedRecord, JSON.stringify({ context, delta }));
          const slow = recordBytes(fields);
          assert.deepEqual(fieldsOf(record), fieldsOf(kafkajsDecode(slow, context)));
          assert.equal(fast.offset, slow.offset, "both read the whole record");
          assert.equal(record.valueLength, value?.length ?? 0);
          compared++;
        }
      }
    }
  }
  assert.equal(compared, CONTEXTS.length * VALUES.length ** 2 * DELTAS.length);
});

Deno.test("records the fast decoder cannot read exactly are left to kafkajs", () => {
  const base = CONTEXTS[0]!;
  const plain = { key: null, value: Buffer.from("x"), offsetDelta: 1, timestampDelta: 2 };
  const cases: [string, RecordBatchContext, Parameters<typeof kafkajsRecord>[0]][] = [
    ["headers", base, { ...plain, headers: { trace: Buffer.from("1") } }],
    ["log-append time", { ...base, timestampType: 1, maxTimestamp: "1733500000999" }, plain],
    ["an offset past 2^53", { ...base, firstOffset: "9007199254740000" }, plain],
    ["a timestamp delta of 8 varint bytes", base, { ...plain, timestampDelta: 2 ** 50 }],
  ];
  for (const [what, context, fields] of cases) {
    assert.equal(decodeRecordFast(recordBytes(fields), context), undefined, what);
    // kafkajs still reads it.
    const record = kafkajsDecode(recordBytes(fields), context);
    assert.equal(Reflect.get(Object(record), "value")?.toString(), "x", what);
  }
});
