import assert from "node:assert/strict";
import {
  createDlqSummary,
  type DeadLetterRecord,
  formatReport,
  normalizeReason,
  printable,
  printableText,
} from "../../shared/dlq/report.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

function letter(
  offset: number,
  value: string | Uint8Array | null,
  headers: Record<string, string>,
): DeadLetterRecord {
  return {
    partition: 0,
    offset: String(offset),
    key: null,
    value: typeof value === "string" ? bytes(value) : value,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, bytes(v)])),
  };
}

function source(kind: string, error: string, offset: number, field?: string) {
  return {
    "error.kind": kind,
    error,
    ...(field === undefined ? {} : { "error.field": field }),
    "source.topic": "plays",
    "source.partition": "2",
    "source.offset": String(offset),
    "source.timestamp": "1764012133000",
  };
}

Deno.test("normalizeReason() drops the offending value and parser details", () => {
  assert.equal(
    normalizeReason(`Cannot parse event: 'song_id' must be an integer, got "x"`),
    "Cannot parse event: 'song_id' must be an integer, got …",
  );
  assert.equal(
    normalizeReason("Cannot parse event: expected a JSON object, got an array"),
    "Cannot parse event: expected a JSON object, got …",
  );
  assert.equal(
    normalizeReason(
      `Cannot parse event: the message is not valid JSON (Unexpected token 'o', "{oops" is not valid JSON)`,
    ),
    "Cannot parse event: the message is not valid JSON (…)",
  );
  assert.equal(
    normalizeReason(
      "Cannot parse event: the message is not valid JSON (Expected property name or '}' in JSON at position 1 (line 1 column 2))",
    ),
    "Cannot parse event: the message is not valid JSON (…)",
  );
  assert.equal(
    normalizeReason("Cannot store event: no such field"),
    "Cannot store event: no such field",
  );
});

Deno.test("printable() escapes terminal controls and invisible characters", () => {
  assert.equal(printableText("red\u001b[31m\r\ttab\u0007", 50), "red\\u{1b}[31m\\r\\ttab\\u{7}");
  assert.equal(
    printableText("a\u009bb\u202ec\u200bd\u2028", 50),
    "a\\u{9b}b\\u{202e}c\\u{200b}d\\u{2028}",
  );
  assert.equal(printableText("zombie — Tony Allen 🥁", 50), "zombie — Tony Allen 🥁", "text stays");
  assert.equal(printableText("🥁🥁🥁", 2), "🥁🥁…", "cut by characters, not UTF-16 units");
  assert.equal(printable(bytes("x".repeat(10)), 4), "xxxx…");
  assert.equal(
    printable(new Uint8Array([0xc3, 0x28, 1, 2, 3, 4, 5]), 6),
    "<7 bytes, not UTF-8: c3 28 …>",
  );
  assert.equal(printable(new Uint8Array()), "");
});

Deno.test("createDlqSummary() groups by kind and normalized reason, most frequent first", () => {
  const summary = createDlqSummary({ topic: "plays.dlq", limit: 2 });
  summary.add(
    letter(
      0,
      "{not json",
      source(
        "invalid-json",
        "Cannot parse event: the message is not valid JSON (Unexpected token 'n')",
        10,
      ),
    ),
  );
  summary.add(
    letter(
      1,
      '{"song_id":"x"}',
      source(
        "invalid-event",
        `Cannot parse event: 'song_id' must be an integer, got "x"`,
        11,
        "song_id",
      ),
    ),
  );
  summary.add(
    letter(
      2,
      '{"song_id":"y"}',
      source(
        "invalid-event",
        `Cannot parse event: 'song_id' must be an integer, got "y"`,
        12,
        "song_id",
      ),
    ),
  );
  summary.add(
    letter(
      3,
      '{"song_id":true}',
      source(
        "invalid-event",
        "Cannot parse event: 'song_id' must be an integer, got true",
        13,
        "song_id",
      ),
    ),
  );
  summary.add(
    letter(
      4,
      "[1]",
      source("invalid-json", "Cannot parse event: expected a JSON object, got an array", 14),
    ),
  );
  summary.add(letter(5, null, {}));
  const report = summary.report();
  assert.equal(report.total, 6);
  assert.deepEqual(
    report.groups.map((g) => [g.count, g.kind, g.reason]),
    [
      [3, "invalid-event", "Cannot parse event: 'song_id' must be an integer, got …"],
      [1, "invalid-json", "Cannot parse event: expected a JSON object, got …"],
      [1, "invalid-json", "Cannot parse event: the message is not valid JSON (…)"],
      [1, "unknown", "(no error header)"],
    ],
  );
  const songId = report.groups[0]!;
  assert.equal(songId.examples.length, 2, "--limit examples per group");
  assert.deepEqual(songId.examples[0], {
    letter: "plays.dlq[0]@1",
    source: "plays[2]@11",
    error: `Cannot parse event: 'song_id' must be an integer, got "x"`,
    field: "song_id",
    key: null,
    value: '{"song_id":"x"}',
    bytes: 15,
    truncated: false,
  });
  const headerless = report.groups[3]!.examples[0]!;
  assert.equal(headerless.source, null);
  assert.equal(headerless.value, "<null>");
});

Deno.test("formatReport() prints counts, kinds, reasons and examples; JSON round-trips", () => {
  const summary = createDlqSummary({ topic: "plays.dlq", limit: 1, maxChars: 12 });
  for (let i = 0; i < 3; i++) {
    summary.add(
      letter(
        i,
        `{"song_id":"${"x".repeat(20)}"}`,
        source(
          "invalid-event",
          `Cannot parse event: 'song_id' must be an integer, got "${i}"`,
          20 + i,
          "song_id",
        ),
      ),
    );
  }
  summary.add(
    letter(
      3,
      "\u001b[2J",
      source("invalid-json", "Cannot parse event: the message is not valid JSON (x)", 30),
    ),
  );
  const report = summary.report();
  assert.equal(
    formatReport(report),
    [
      "plays.dlq: 4 dead letters in 2 groups",
      "",
      "3  invalid-event  Cannot parse event: 'song_id' must be an integer, got …",
      `   plays[2]@20  {"song_id":"…  (34 bytes)`,
      "   … and 2 more",
      "",
      "1  invalid-json   Cannot parse event: the message is not valid JSON (…)",
      "   plays[2]@30  \\u{1b}[2J",
      "",
    ].join("\n"),
  );
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});

Deno.test("formatReport() says when the topic is empty", () => {
  assert.equal(
    formatReport(createDlqSummary({ topic: "plays.dlq" }).report()),
    "plays.dlq: no dead letters\n",
  );
});

Deno.test("normalizeReason() takes time linear in the reason: a 40 kB header of spaces is quick", () => {
  for (const reason of [`x${" ".repeat(40_000)}y`, "\t".repeat(40_000), "(x".repeat(20_000)]) {
    const started = performance.now();
    normalizeReason(reason);
    const ms = performance.now() - started;
    assert.ok(ms < 500, `${ms.toFixed(0)} ms for ${JSON.stringify(reason.slice(0, 4))}…`);
  }
});

Deno.test("normalizeReason() groups as the former pattern did, on every short mix of parentheses", () => {
  const former = (reason: string) =>
    reason.replace(/\bgot\s[\s\S]*$/, "got …")
      .replace(/\s*\((?:[^()]|\([^()]*\))*\)\s*$/, " (…)").trim();
  const alphabet = ["(", ")", " ", "a", "\n"];
  let checked = 0;
  const visit = (prefix: string) => {
    assert.equal(normalizeReason(prefix), former(prefix), JSON.stringify(prefix));
    checked++;
    if (prefix.length < 7) { for (const char of alphabet) visit(prefix + char); }
  };
  visit("");
  assert.ok(checked > 90_000);
});
