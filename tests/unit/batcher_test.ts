import assert from "node:assert/strict";
import { batchLength, flushReason } from "../../shared/sink/batcher.ts";

Deno.test("batchLength() takes as many items as fit both limits", () => {
  assert.equal(batchLength([40, 40, 40], { maxRows: 10, maxBytes: 100 }), 2);
  assert.equal(batchLength([40, 60, 1], { maxRows: 10, maxBytes: 100 }), 2);
  assert.equal(batchLength([1, 1, 1, 1], { maxRows: 3, maxBytes: 100 }), 3);
  assert.equal(batchLength([], { maxRows: 3, maxBytes: 100 }), 0);
});

Deno.test("batchLength() always takes at least one item, however large", () => {
  assert.equal(batchLength([500, 1], { maxRows: 10, maxBytes: 100 }), 1);
  assert.equal(batchLength([1, 500], { maxRows: 10, maxBytes: 100 }), 1);
});

Deno.test("batchLength() reads only as many sizes as the batch takes", () => {
  let read = 0;
  function* sizes() {
    for (;;) {
      read++;
      yield 10;
    }
  }
  assert.equal(batchLength(sizes(), { maxRows: 3, maxBytes: 100 }), 3);
  assert.equal(read, 3);
});

Deno.test("flushReason() names the first limit reached", () => {
  const limits = { maxRows: 10, maxBytes: 100, maxWaitMs: 50 };
  assert.equal(flushReason({ rows: 0, bytes: 0, ageMs: 1_000 }, limits), undefined);
  assert.equal(flushReason({ rows: 9, bytes: 99, ageMs: 49 }, limits), undefined);
  assert.equal(flushReason({ rows: 10, bytes: 0, ageMs: 0 }, limits), "rows");
  assert.equal(flushReason({ rows: 1, bytes: 100, ageMs: 0 }, limits), "bytes");
  assert.equal(flushReason({ rows: 1, bytes: 1, ageMs: 50 }, limits), "time");
  assert.equal(flushReason({ rows: 10, bytes: 100, ageMs: 50 }, limits), "rows");
});
