import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { formatRecord, logger, logLevel } from "../../shared/ops/log.ts";

const AT = Date.parse("2026-11-24T19:22:13.456Z");

function record(overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    category: ["livecharts", "kafka"],
    level: "info",
    message: ["Created topic ", "plays", ""],
    rawMessage: "Created topic {topic}",
    timestamp: AT,
    properties: { topic: "plays", partitions: 3 },
    ...overrides,
  };
}

Deno.test("logLevel() accepts LogTape levels in any case", () => {
  assert.equal(logLevel("debug"), "debug");
  assert.equal(logLevel(" INFO "), "info");
  assert.equal(logLevel("Error"), "error");
  assert.equal(logLevel("trace"), "trace");
  assert.equal(logLevel("fatal"), "fatal");
  assert.equal(logLevel("warning"), "warning");
});

Deno.test("logLevel() reads warn as warning", () => {
  assert.equal(logLevel("warn"), "warning");
  assert.equal(logLevel("WARN"), "warning");
});

Deno.test("logLevel() rejects other names", () => {
  for (const raw of ["verbose", "", "information", "warnings"]) {
    assert.throws(() => logLevel(raw), {
      message: `must be one of trace, debug, info, warning, error, fatal, got ${
        JSON.stringify(raw)
      }`,
    });
  }
});

Deno.test("formatRecord() writes time, level, category, message and other fields", () => {
  assert.equal(
    formatRecord(record()),
    "2026-11-24T19:22:13.456Z INFO    livecharts.kafka: Created topic plays partitions=3\n",
  );
});

Deno.test("formatRecord() quotes non-string values as JSON", () => {
  const line = formatRecord(record({
    level: "warning",
    message: ["Retrying in ", 250, " ms after ", { code: 503 }, ""],
    rawMessage: "Retrying in {delayMs} ms after {error}",
    properties: {
      delayMs: 250,
      error: { code: 503 },
      batch: [1, 2],
      note: "as is",
      gone: undefined,
    },
  }));
  assert.equal(
    line,
    `2026-11-24T19:22:13.456Z WARNING livecharts.kafka: Retrying in 250 ms after {"code":503}` +
      ` batch=[1,2] note=as is\n`,
  );
});

Deno.test("formatRecord() pads every level to the same width", () => {
  const levels = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
  const starts = levels.map((level) => formatRecord(record({ level })).indexOf("livecharts"));
  assert.equal(new Set(starts).size, 1);
});

Deno.test("formatRecord() formats what a LogTape logger records", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (entry) => records.push(entry) },
    loggers: [
      { category: ["livecharts"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    logger("consumer").info("Inserted {rows} rows into {table}", {
      rows: 500,
      table: "plays",
      millis: 12,
    });
    logger("consumer").debug("ignored below {level}", { level: "info" });
  } finally {
    await reset();
  }
  assert.equal(records.length, 2);
  const line = formatRecord(records[0]!);
  assert.match(line, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO {4}livecharts\./);
  assert.ok(line.endsWith(" livecharts.consumer: Inserted 500 rows into plays millis=12\n"), line);
});

Deno.test("logger() names categories under livecharts", () => {
  assert.deepEqual(logger("sink", "insert").category, ["livecharts", "sink", "insert"]);
});
