import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../shared/cli/duration.ts";

Deno.test("parseDuration() reads each unit and bare seconds", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("15m"), 900_000);
  assert.equal(parseDuration("24h"), 86_400_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("1.5"), 1_500);
  assert.equal(parseDuration("0"), 0);
});

Deno.test("parseDuration() rejects what is not a duration", () => {
  for (const raw of ["", "-5s", "5 minutes", "m", "1e3"]) {
    assert.throws(() => parseDuration(raw), /must be a duration like 90s, 15m, 24h or 2d/, raw);
  }
});

Deno.test("formatDuration() picks the largest exact unit", () => {
  assert.equal(formatDuration(86_400_000), "1d");
  assert.equal(formatDuration(3_600_000 * 25), "25h");
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(1_500), "1500ms");
  assert.equal(formatDuration(0), "0ms");
});
