// A process that fetched before it installed kafkajs' patches: kafkajs'
// record batch module is loaded already (a fetch loads it) and keeps its own
// CRC32C; installing must neither fail nor break the batches it writes.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import "kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js";
import { RecordBatch } from "kafkajs/src/protocol/recordBatch/v0/index.js";
import { crc32c, installFastBatches, writeRecord } from "../../shared/kafka/batch_patch.ts";
import { installFastVarints } from "../../shared/kafka/encoder_patch.ts";

Deno.test("installFastBatches() after a fetch loaded kafkajs' record batches: batches stay right", async () => {
  installFastVarints();
  installFastBatches();
  const records = [0, 1, 2].map((i) =>
    writeRecord({ offsetDelta: i, key: null, value: Buffer.from(`play-${i}`) })
  );
  const encoded: unknown = await RecordBatch({ records, firstTimestamp: 1, maxTimestamp: 1 });
  const bytes: unknown = Reflect.get(Object(encoded), "buffer");
  assert.ok(bytes instanceof Uint8Array);
  // firstOffset (8), length (4), partition leader epoch (4), magic (1), then the CRC32C of the rest.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(
    view.getUint32(17),
    crc32c(bytes.subarray(21)),
    "the batch's checksum is its body's",
  );
  const body = new TextDecoder().decode(bytes.subarray(21));
  for (const i of [0, 1, 2]) assert.ok(body.includes(`play-${i}`), `record ${i} in the batch`);
});
