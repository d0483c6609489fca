import assert from "node:assert/strict";
import {
  CONTENT_TYPE,
  Counter,
  createRegistry,
  Gauge,
  Histogram,
} from "../../shared/ops/metrics.ts";
import { parseExposition, sampleValue } from "../support/prometheus.ts";

Deno.test("createRegistry({ defaultMetrics: false }) renders only its metrics, text format 0.0.4", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  assert.equal(parseExposition(await registry.metrics()).samples.length, 0);
  new Counter({ name: "jobs_total", help: "Jobs done", registers: [registry] });
  const lag = new Gauge({
    name: "lag",
    help: "Lag",
    labelNames: ["partition"],
    registers: [registry],
  });
  lag.labels({ partition: 0 }).set(5);
  lag.labels({ partition: 1 }).set(2);
  lag.remove({ partition: 0 });
  const latency = new Histogram({
    name: "insert_seconds",
    help: "Insert time",
    buckets: [0.1, 0.5, 1],
    registers: [registry],
  });
  for (const value of [0.05, 0.1, 0.3, 0.7, 3]) latency.observe(value);
  const text = await registry.metrics();
  assert.equal(
    text,
    [
      "# HELP jobs_total Jobs done",
      "# TYPE jobs_total counter",
      "jobs_total 0",
      "",
      "# HELP lag Lag",
      "# TYPE lag gauge",
      'lag{partition="1"} 2',
      "",
      "# HELP insert_seconds Insert time",
      "# TYPE insert_seconds histogram",
      'insert_seconds_bucket{le="0.1"} 2',
      'insert_seconds_bucket{le="0.5"} 3',
      'insert_seconds_bucket{le="1"} 4',
      'insert_seconds_bucket{le="+Inf"} 5',
      "insert_seconds_sum 4.15",
      "insert_seconds_count 5",
      "",
    ].join("\n"),
  );
  parseExposition(text);
  assert.equal(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(registry.contentType, CONTENT_TYPE);
});

Deno.test("a counter's collect() takes a total kept elsewhere at scrape time", async () => {
  const stats = { consumed: 0, letters: { "invalid-json": 0, "invalid-event": 0 } };
  const registry = createRegistry({ defaultMetrics: false });
  new Counter({
    name: "consumed_total",
    help: "c",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.consumed);
    },
  });
  new Counter({
    name: "letters_total",
    help: "l",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(stats.letters)) this.inc({ reason }, count);
    },
  });
  stats.consumed = 7;
  stats.letters["invalid-event"] = 2;
  let parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "consumed_total"), 7);
  assert.equal(sampleValue(parsed, "letters_total", { reason: "invalid-json" }), 0);
  assert.equal(sampleValue(parsed, "letters_total", { reason: "invalid-event" }), 2);
  stats.consumed = 9;
  parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "consumed_total"), 9, "replaced, not added up");
});

Deno.test("label values and help text are escaped as the format requires", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const odd = new Counter({
    name: "odd_total",
    help: 'Back\\slash and "quotes"\nand a new line',
    labelNames: ["value"],
    registers: [registry],
  });
  const nasty = 'C:\\dir "quoted"\nnext line }, le="1"';
  odd.inc({ value: nasty });
  const text = await registry.metrics();
  assert.match(
    text,
    /^# HELP odd_total Back\\\\slash and "quotes"\\nand a new line$/m,
    "help escapes backslash and newline, not quotes",
  );
  assert.equal(text.split("\n").length, 4, "no raw newline leaks into the output");
  const parsed = parseExposition(text);
  assert.equal(parsed.samples[0]?.labels.value, nasty, "round trip through a strict parser");
  assert.equal(parsed.help.get("odd_total"), 'Back\\slash and "quotes"\nand a new line');
});

Deno.test("a registry refuses a second metric of the same name", () => {
  const registry = createRegistry({ defaultMetrics: false });
  new Gauge({ name: "g", help: "x", registers: [registry] });
  assert.throws(
    () => new Counter({ name: "g", help: "x", registers: [registry] }),
    /A metric with the name g has already been registered/,
  );
  assert.throws(
    () =>
      new Counter({ name: "process_cpu_seconds_total", help: "x", registers: [createRegistry()] }),
    /already been registered/,
    "the default metrics are registered too",
  );
});
