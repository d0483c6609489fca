import assert from "node:assert/strict";
import { compact, rateMeter, startProgress } from "../../shared/ops/progress.ts";

Deno.test("compact() prints small counts as integers", () => {
  assert.equal(compact(0), "0");
  assert.equal(compact(950), "950");
  assert.equal(compact(12.4), "12");
  assert.equal(compact(9_999), "9999");
});

Deno.test("compact() prints thousands with one decimal", () => {
  assert.equal(compact(10_000), "10.0k");
  assert.equal(compact(12_345), "12.3k");
  assert.equal(compact(999_900), "999.9k");
});

Deno.test("compact() prints millions with two decimals", () => {
  assert.equal(compact(1_000_000), "1.00M");
  assert.equal(compact(4_560_000), "4.56M");
  assert.equal(compact(123_456_789), "123.46M");
});

Deno.test("compact() never prints a rounded value in the smaller unit", () => {
  assert.equal(compact(9_999.7), "10.0k"); // not "10000"
  assert.equal(compact(999_960), "1.00M"); // not "1000.0k"
  assert.equal(compact(999_999), "1.00M");
});

Deno.test("rateMeter() measures per second over at least half a second", () => {
  let now = 1_000;
  const meter = rateMeter(() => now);
  assert.equal(meter(0), 0);
  now += 1_000;
  assert.equal(meter(100), 100);
  now += 200; // too soon: keeps the last rate
  assert.equal(meter(500), 100);
  now += 300; // 500 ms since the last sample: 400 more events
  assert.equal(meter(500), 800);
  now += 2_000;
  assert.equal(meter(500), 0);
});

Deno.test("rateMeter() counts from its creation", () => {
  let now = 0;
  const meter = rateMeter(() => now);
  now = 400;
  assert.equal(meter(1_000), 0);
  now = 500;
  assert.equal(meter(1_000), 2_000);
});

Deno.test("startProgress() redraws plain lines and prints the last one on stop", async () => {
  const lines: string[] = [];
  let n = 0;
  const progress = startProgress({
    render: () => `sent ${++n}`,
    intervalMs: 10,
    tty: false,
    write: (text) => lines.push(text),
  });
  await new Promise((resolve) => setTimeout(resolve, 35));
  progress.stop();
  const drawn = lines.length;
  assert.ok(drawn >= 2, `${drawn} lines`);
  assert.ok(lines.every((line, i) => line === `sent ${i + 1}\n`), JSON.stringify(lines));
  await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(lines.length, drawn, "drew after stop()");
});

Deno.test("startProgress() redraws in place on a terminal", async () => {
  const lines: string[] = [];
  const progress = startProgress({
    render: () => "42 events",
    intervalMs: 5,
    tty: true,
    write: (text) => lines.push(text),
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  progress.stop();
  assert.ok(lines.length >= 2);
  assert.ok(lines.slice(0, -1).every((line) => line === "\r\x1b[2K42 events"));
  assert.equal(lines.at(-1), "\r\x1b[2K42 events\n");
});
