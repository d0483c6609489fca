/**
 * What is in the dead-letter topic, grouped so people can act on it: letters
 * grouped by `error.kind` and normalized reason, with counts and the first
 * examples (where each came from and a safely printable, truncated value).
 *
 * Pure: the caller reads the topic and feeds the letters in.
 *
 * @module
 */

import { DEAD_LETTER_HEADERS } from "./dead_letter.ts";

/** A message read from the dead-letter topic. */
export interface DeadLetterRecord {
  partition: number;
  offset: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, Uint8Array>;
}

/** One example letter of a group. */
export interface DlqExample {
  /** Where the letter is, e.g. `plays.dlq[0]@12`. */
  letter: string;
  /** Where the original was read, e.g. `plays[2]@7`, or null without source headers. */
  source: string | null;
  /** The full `error` header (printable, truncated). */
  error: string;
  field: string | null;
  key: string | null;
  /** The value, printable and truncated. */
  value: string;
  /** Size of the value in bytes. */
  bytes: number;
  /** Whether `value` was cut short. */
  truncated: boolean;
}

/** Letters sharing a kind and a normalized reason. */
export interface DlqGroup {
  kind: string;
  reason: string;
  count: number;
  examples: DlqExample[];
}

/** The listing of a dead-letter topic. */
export interface DlqReport {
  topic: string;
  total: number;
  /** Most frequent first. */
  groups: DlqGroup[];
}

/** Options of {@linkcode createDlqSummary}. */
export interface DlqSummaryOptions {
  /** Dead-letter topic (for letter coordinates). */
  topic: string;
  /** Examples kept per group (default 3). */
  limit?: number;
  /** Characters of each example value (default 120). */
  maxChars?: number;
}

/** Coordinates of a message: `topic[partition]@offset`. */
export function coordinates(topic: string, partition: number | string, offset: string): string {
  return `${topic}[${partition}]@${offset}`;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A header as text (invalid UTF-8 is replaced), or undefined when absent. */
export function headerText(record: DeadLetterRecord, name: string): string | undefined {
  const value = record.headers[name];
  return value === undefined ? undefined : new TextDecoder().decode(value);
}

// Control characters (C0, DEL, C1) and invisible or direction-changing
// characters a terminal would act on or hide, as code point ranges.
const UNSAFE: readonly (readonly [number, number])[] = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0xad, 0xad],
  [0x61c, 0x61c],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x2069],
  [0xfeff, 0xfeff],
];
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (!UNSAFE.some(([low, high]) => code >= low && code <= high)) return char;
  return NAMED[char] ?? `\\u{${code.toString(16)}}`;
}

/**
 * Text that is safe to print on a terminal: control and invisible
 * characters escaped, cut at `maxChars` characters with `…`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printableText } from "./report.ts";
 * assert.equal(printableText("a\u001b[2Jb\n", 20), "a\\u{1b}[2Jb\\n");
 * assert.equal(printableText("abcdef", 3), "abc…");
 * ```
 */
export function printableText(text: string, maxChars: number): string {
  const chars = [...text];
  const shown = chars.slice(0, maxChars).map(escapeChar).join("");
  return chars.length > maxChars ? `${shown}…` : shown;
}

/**
 * Message bytes made safe to print: UTF-8 text through
 * {@linkcode printableText}; anything else as a hex preview.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printable } from "./report.ts";
 * assert.equal(printable(new Uint8Array([0xff, 0x00, 0x41])), "<3 bytes, not UTF-8: ff 00 41>");
 * assert.equal(printable(null), "<null>");
 * ```
 */
export function printable(bytes: Uint8Array | null, maxChars = 120): string {
  if (bytes === null) return "<null>";
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    const count = Math.max(1, Math.floor(maxChars / 3));
    const hex = [...bytes.subarray(0, count)].map((b) => b.toString(16).padStart(2, "0"));
    return `<${bytes.length} bytes, not UTF-8: ${hex.join(" ")}${
      bytes.length > count ? " …" : ""
    }>`;
  }
  return printableText(text, maxChars);
}

/**
 * A reason without the parts that differ from letter to letter (the value
 * after `got`, parser details in final parentheses), so that letters with
 * the same cause fall in one group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeReason } from "./report.ts";
 * assert.equal(
 *   normalizeReason(`Cannot parse event: 'song_id' must be an integer, got "x"`),
 *   "Cannot parse event: 'song_id' must be an integer, got …",
 * );
 * ```
 */
export function normalizeReason(reason: string): string {
  return withoutFinalParentheses(reason.replace(/\bgot\s[\s\S]*$/, "got …")).trim();
}

/**
 * `text` with its final parenthesized part (one level of nesting inside, as
 * `(details (more))`) and the spaces before it replaced by ` (…)`; the text
 * itself when it does not end that way. One backward pass: the time grows
 * with the length only (a header is any size a producer sent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withoutFinalParentheses } from "./report.ts";
 * assert.equal(withoutFinalParentheses("bad row (at 3 (col 4))  "), "bad row (…)");
 * assert.equal(withoutFinalParentheses("bad (a (b (c)))"), "bad (a (b (c)))");
 * assert.equal(withoutFinalParentheses("bad (a) b"), "bad (a) b");
 * ```
 */
export function withoutFinalParentheses(text: string): string {
  let end = text.length;
  while (end > 0 && /\s/.test(text[end - 1]!)) end--;
  if (text[end - 1] !== ")") return text;
  let depth = 0;
  for (let at = end - 1; at >= 0; at--) {
    const char = text[at];
    if (char === ")") {
      if (++depth > 2) return text;
    } else if (char === "(" && --depth === 0) {
      let start = at;
      while (start > 0 && /\s/.test(text[start - 1]!)) start--;
      return `${text.slice(0, start)} (…)`;
    }
  }
  return text;
}

/** A running summary; add letters in read order, then take the report. */
export interface DlqSummary {
  add(record: DeadLetterRecord): void;
  report(): DlqReport;
}

/**
 * Creates a summary of a dead-letter topic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createDlqSummary } from "./report.ts";
 * const text = (s: string) => new TextEncoder().encode(s);
 * const summary = createDlqSummary({ topic: "plays.dlq" });
 * summary.add({
 *   partition: 0, offset: "0", key: null, value: text("{oops"),
 *   headers: { "error.kind": text("invalid-json"), error: text("Cannot parse event: bad") },
 * });
 * assert.equal(summary.report().groups[0]?.count, 1);
 * ```
 */
export function createDlqSummary(options: DlqSummaryOptions): DlqSummary {
  const limit = options.limit ?? 3;
  const maxChars = options.maxChars ?? 120;
  const groups = new Map<string, DlqGroup>();
  let total = 0;
  return {
    add(record) {
      total++;
      const kind = printableText(headerText(record, DEAD_LETTER_HEADERS.kind) ?? "unknown", 64);
      const error = headerText(record, DEAD_LETTER_HEADERS.error);
      const reason = error === undefined
        ? "(no error header)"
        : printableText(normalizeReason(error), 200);
      const key = JSON.stringify([kind, reason]);
      let group = groups.get(key);
      if (group === undefined) {
        group = { kind, reason, count: 0, examples: [] };
        groups.set(key, group);
      }
      group.count++;
      if (group.examples.length >= limit) return;
      const topic = headerText(record, DEAD_LETTER_HEADERS.topic);
      const partition = headerText(record, DEAD_LETTER_HEADERS.partition);
      const offset = headerText(record, DEAD_LETTER_HEADERS.offset);
      const field = headerText(record, DEAD_LETTER_HEADERS.field);
      group.examples.push({
        letter: coordinates(options.topic, record.partition, record.offset),
        source: topic === undefined || partition === undefined || offset === undefined
          ? null
          : printableText(coordinates(topic, partition, offset), 300),
        error: printableText(error ?? "", 300),
        field: field === undefined ? null : printableText(field, 64),
        key: record.key === null ? null : printable(record.key, 64),
        value: printable(record.value, maxChars),
        bytes: record.value?.length ?? 0,
        truncated: printable(record.value, maxChars) !== printable(record.value, Infinity),
      });
    },
    report() {
      const sorted = [...groups.values()].sort((a, b) =>
        b.count - a.count || a.kind.localeCompare(b.kind) || a.reason.localeCompare(b.reason)
      );
      return { topic: options.topic, total, groups: sorted.map((g) => ({ ...g })) };
    },
  };
}

/**
 * Formats a report for people: a total, then one block per group with its
 * count, kind, reason and examples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatReport } from "./report.ts";
 * assert.equal(formatReport({ topic: "plays.dlq", total: 0, groups: [] }), "plays.dlq: no dead letters\n");
 * ```
 */
export function formatReport(report: DlqReport): string {
  if (report.total === 0) return `${report.topic}: no dead letters\n`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const lines = [
    `${report.topic}: ${plural(report.total, "dead letter")} in ${
      plural(report.groups.length, "group")
    }`,
  ];
  const countWidth = Math.max(...report.groups.map((g) => String(g.count).length));
  const kindWidth = Math.max(...report.groups.map((g) => g.kind.length));
  for (const group of report.groups) {
    lines.push(
      "",
      `${String(group.count).padStart(countWidth)}  ${
        group.kind.padEnd(kindWidth)
      }  ${group.reason}`,
    );
    for (const example of group.examples) {
      const from = example.source ?? `${example.letter} (no source headers)`;
      const size = example.truncated ? `  (${example.bytes} bytes)` : "";
      lines.push(`${" ".repeat(countWidth + 2)}${from}  ${example.value}${size}`);
    }
    const more = group.count - group.examples.length;
    if (more > 0 && group.examples.length > 0) {
      lines.push(`${" ".repeat(countWidth + 2)}… and ${more} more`);
    }
  }
  return `${lines.join("\n")}\n`;
}
