// Lag after retention: records deleted before a group read them are not lag.

import assert from "node:assert/strict";
import { lagOf } from "../../shared/kafka/admin.ts";

Deno.test("lagOf() counts a partition never committed from its low watermark", () => {
  const lag = lagOf([{ partition: 0, low: 40n, high: 50n }], new Map());
  assert.deepEqual(lag, [{ partition: 0, committed: 40n, end: 50n, lag: 10n }]);
});

Deno.test("lagOf() counts from the low watermark when retention passed the commit", () => {
  const lag = lagOf([{ partition: 0, low: 40n, high: 50n }], new Map([[0, 10n]]));
  assert.deepEqual(lag, [{ partition: 0, committed: 40n, end: 50n, lag: 10n }]);
});
