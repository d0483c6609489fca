import assert from "node:assert/strict";
import {
  CONTENT_TYPE,
  createRegistry,
  escapeLabelValue,
  formatValue,
} from "../shared/ops/metrics.ts";
import { parseExposition, sampleValue } from "./support/prometheus.ts";

Deno.test("createRegistry() renders HELP, TYPE and an unlabelled counter at 0", () => {
  const registry = createRegistry();
  registry.counter({ name: "jobs_total", help: "Jobs done" });
  assert.equal(
    registry.render(),
    "# HELP jobs_total Jobs done\n# TYPE jobs_total counter\njobs_total 0\n",
  );
});

Deno.test("createRegistry() renders an empty registry as empty text", () => {
  assert.equal(createRegistry().render(), "");
});

Deno.test("counter inc() adds, labels() keeps one series per label set", () => {
  const registry = createRegistry();
  const letters = registry.counter({
    name: "letters_total",
    help: "Letters",
    labelNames: ["reason", "topic"],
  });
  letters.labels({ reason: "invalid-json", topic: "plays" }).inc();
  letters.labels({ topic: "plays", reason: "invalid-json" }).inc(2);
  letters.labels({ reason: "invalid-event", topic: "plays" }).inc(0.5);
  assert.equal(
    registry.render(),
    [
      "# HELP letters_total Letters",
      "# TYPE letters_total counter",
      'letters_total{reason="invalid-json",topic="plays"} 3',
      'letters_total{reason="invalid-event",topic="plays"} 0.5',
      "",
    ].join("\n"),
  );
});

Deno.test("counter rejects negative increments and wrong labels", () => {
  const registry = createRegistry();
  const plain = registry.counter({ name: "a_total", help: "a" });
  assert.throws(
    () => plain.inc(-1),
    /Cannot increase counter 'a_total': 'by' must not be negative, got -1/,
  );
  assert.throws(() => plain.inc(NaN), /must be a number, got NaN/);
  // Label names typed as plain strings: the checks happen at run time.
  const labelled = registry.counter<string>({ name: "b_total", help: "b", labelNames: ["reason"] });
  assert.throws(() => labelled.inc(), /Cannot update 'b_total' without labels/);
  assert.throws(
    () => labelled.labels({ other: "x" }).inc(),
    /labels must be exactly \["reason"\], got \["other"\]/,
  );
  assert.throws(() => labelled.labels({}).inc(), /got \[\]/);
});

Deno.test("gauge set/inc/dec, remove() and clear() drop series", () => {
  const registry = createRegistry();
  const lag = registry.gauge({ name: "lag", help: "Lag", labelNames: ["partition"] });
  lag.labels({ partition: 0 }).set(5);
  lag.labels({ partition: 1 }).inc(3);
  lag.labels({ partition: 1 }).dec();
  lag.labels({ partition: 2 }).set(-1.5);
  lag.remove({ partition: 0 });
  let parsed = parseExposition(registry.render());
  assert.equal(sampleValue(parsed, "lag", { partition: "0" }), undefined);
  assert.equal(sampleValue(parsed, "lag", { partition: "1" }), 2);
  assert.equal(sampleValue(parsed, "lag", { partition: "2" }), -1.5);
  lag.clear();
  parsed = parseExposition(registry.render());
  assert.equal(parsed.samples.length, 0);
  assert.equal(parsed.types.get("lag"), "gauge");
  const up = registry.gauge({ name: "up", help: "Up" });
  up.set(1);
  assert.equal(sampleValue(parseExposition(registry.render()), "up"), 1);
});

Deno.test("collect reads values at render time and replaces stored series", () => {
  const stats = { consumed: 0, letters: { "invalid-json": 0, "invalid-event": 0 } };
  const registry = createRegistry();
  registry.counter({ name: "consumed_total", help: "c", collect: () => stats.consumed });
  registry.counter({
    name: "letters_total",
    help: "l",
    labelNames: ["reason"],
    collect: () => Object.entries(stats.letters).map(([reason, n]) => [{ reason }, n]),
  });
  stats.consumed = 7;
  stats.letters["invalid-event"] = 2;
  const parsed = parseExposition(registry.render());
  assert.equal(sampleValue(parsed, "consumed_total"), 7);
  assert.equal(sampleValue(parsed, "letters_total", { reason: "invalid-json" }), 0);
  assert.equal(sampleValue(parsed, "letters_total", { reason: "invalid-event" }), 2);
});

Deno.test("histogram renders cumulative buckets incl. +Inf, _sum and _count", () => {
  const registry = createRegistry();
  const latency = registry.histogram({
    name: "insert_seconds",
    help: "Insert time",
    buckets: [0.1, 0.5, 1],
  });
  for (const value of [0.05, 0.1, 0.3, 0.7, 3]) latency.observe(value);
  assert.equal(
    registry.render(),
    [
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
});

Deno.test("histogram with labels puts le last and renders an empty histogram at 0", () => {
  const registry = createRegistry();
  const rows = registry.histogram({
    name: "rows",
    help: "Rows",
    labelNames: ["table"],
    buckets: [10, 100, Infinity],
  });
  rows.labels({ table: "plays" }).observe(20);
  registry.histogram({ name: "empty", help: "Empty", buckets: [1] });
  const text = registry.render();
  assert.match(text, /^rows_bucket\{table="plays",le="10"\} 0$/m);
  assert.match(text, /^rows_bucket\{table="plays",le="100"\} 1$/m);
  assert.equal(text.match(/le="\+Inf"/g)?.length, 2, "+Inf once per series, not twice");
  assert.match(
    text,
    /^empty_bucket\{le="1"\} 0\nempty_bucket\{le="\+Inf"\} 0\nempty_sum 0\nempty_count 0$/m,
  );
  parseExposition(text);
});

Deno.test("histogram rejects unsorted buckets, a 'le' label and NaN", () => {
  const registry = createRegistry();
  assert.throws(
    () => registry.histogram({ name: "h", help: "h", buckets: [1, 1] }),
    /'buckets' must be finite and strictly increasing, got \[1,1\]/,
  );
  assert.throws(
    () => registry.histogram({ name: "h", help: "h", labelNames: ["le"], buckets: [1] }),
    /label names must match .* and not be le/,
  );
  const h = registry.histogram({ name: "h", help: "h", buckets: [1] });
  assert.throws(() => h.observe(NaN), /the observed value must be a number, got NaN/);
});

Deno.test("createRegistry() rejects invalid and duplicate names", () => {
  const registry = createRegistry();
  assert.throws(
    () => registry.counter({ name: "1abc", help: "x" }),
    /Cannot register counter: 'name' must match .*, got "1abc"/,
  );
  assert.throws(
    () => registry.gauge({ name: "g", help: "x", labelNames: ["__internal"] }),
    /got "__internal"/,
  );
  assert.throws(
    () => registry.gauge({ name: "g", help: "x", labelNames: ["a", "a"] }),
    /label names must be unique/,
  );
  registry.gauge({ name: "g", help: "x" });
  assert.throws(() => registry.counter({ name: "g", help: "x" }), /a metric of that name exists/);
});

Deno.test("label values and help text are escaped as the format requires", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const registry = createRegistry();
  const odd = registry.counter({
    name: "odd_total",
    help: 'Back\\slash and "quotes"\nand a new line',
    labelNames: ["value"],
  });
  const nasty = 'C:\\dir "quoted"\nnext line }, le="1"';
  odd.labels({ value: nasty }).inc();
  const text = registry.render();
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

Deno.test("formatValue() writes special floats the way Prometheus reads them", () => {
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(42), "42");
  assert.equal(formatValue(1e-7), "1e-7");
  assert.equal(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});
