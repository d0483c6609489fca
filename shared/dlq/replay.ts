/**
 * Replaying dead letters: which topic a letter goes back to, the message
 * re-published (original key and bytes, original headers without ours, plus
 * `replayed.from`), which consumer group remembers progress, and the report.
 *
 * Pure: `dlq.ts` reads, publishes and commits.
 *
 * @module
 */

import { DEAD_LETTER_HEADERS } from "./dead_letter.ts";
import { coordinates, type DeadLetterRecord, headerText, printableText } from "./report.ts";

/** Header naming the dead letter a replayed message came from (`topic[partition]@offset`). */
export const REPLAYED_FROM = "replayed.from";

const OURS = new Set<string>([...Object.values(DEAD_LETTER_HEADERS), REPLAYED_FROM]);

/** A message to re-publish. */
export interface ReplayMessage {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, Uint8Array | string>;
}

/** The letter's `error.kind`, or `unknown`. */
export function letterKind(record: DeadLetterRecord): string {
  return headerText(record, DEAD_LETTER_HEADERS.kind) ?? "unknown";
}

/**
 * The consumer group that remembers replay progress: `<dlq>.replay`, or
 * `<dlq>.replay.<kind>` for a replay limited to one kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replayGroup } from "./replay.ts";
 * assert.equal(replayGroup("plays.dlq"), "plays.dlq.replay");
 * assert.equal(replayGroup("plays.dlq", "invalid-json"), "plays.dlq.replay.invalid-json");
 * ```
 */
export function replayGroup(dlqTopic: string, kind?: string): string {
  return kind === undefined ? `${dlqTopic}.replay` : `${dlqTopic}.replay.${kind}`;
}

/**
 * Where a letter goes back to: `to` when given, else the configured source
 * `topic`, and only when the letter's `source.topic` header names that
 * topic: a header is data whoever writes to the dead-letter topic chose, so
 * it never picks the destination. Throws why a letter cannot go back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replayTarget } from "./replay.ts";
 * const letter = (source: string) => ({
 *   partition: 0, offset: "1", key: null, value: null,
 *   headers: { "source.topic": new TextEncoder().encode(source) },
 * });
 * assert.equal(replayTarget(letter("plays"), { topic: "plays" }), "plays");
 * assert.equal(replayTarget(letter("payments"), { topic: "plays", to: "fixed" }), "fixed");
 * assert.throws(() => replayTarget(letter("payments"), { topic: "plays" }), /not the configured topic plays/);
 * ```
 */
export function replayTarget(
  record: DeadLetterRecord,
  options: { topic: string; to?: string | undefined },
): string {
  if (options.to !== undefined) return options.to;
  const source = headerText(record, DEAD_LETTER_HEADERS.topic);
  if (source === undefined) {
    throw new Error("it has no source.topic header (name a topic with --to)");
  }
  if (source !== options.topic) {
    throw new Error(
      `its source.topic is ${JSON.stringify(source)}, not the configured topic ${options.topic} ` +
        `(replay goes only there; name a topic with --to)`,
    );
  }
  return options.topic;
}

/**
 * The message to re-publish for a letter read at `dlqTopic`: the original
 * key and value bytes, the original headers (without `error*`, `source.*`
 * and an older `replayed.from`), and `replayed.from` set to the letter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replayMessage } from "./replay.ts";
 * const text = (s: string) => new TextEncoder().encode(s);
 * const message = replayMessage({
 *   partition: 0, offset: "4", key: text("k"), value: text("{oops"),
 *   headers: { trace: text("abc"), error: text("bad"), "source.topic": text("plays") },
 * }, "plays.dlq");
 * assert.deepEqual(Object.keys(message.headers), ["trace", "replayed.from"]);
 * assert.equal(message.headers["replayed.from"], "plays.dlq[0]@4");
 * ```
 */
export function replayMessage(record: DeadLetterRecord, dlqTopic: string): ReplayMessage {
  const headers: Record<string, Uint8Array | string> = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (!OURS.has(name)) headers[name] = value;
  }
  headers[REPLAYED_FROM] = coordinates(dlqTopic, record.partition, record.offset);
  return { key: record.key, value: record.value, headers };
}

/** What a replay did (or, with `--dry-run`, would do). */
export interface ReplayReport {
  dlqTopic: string;
  group: string;
  kind: string | null;
  dryRun: boolean;
  /** Letters read past the group's committed offsets. */
  read: number;
  /** Messages re-published (acknowledged), by target topic. */
  published: Record<string, number>;
  /** Letters a `--kind` replay had already re-published. */
  alreadyReplayed: number;
  /** Letters of other kinds (with `--kind`), left for a later replay. */
  otherKinds: number;
  /**
   * Letters whose value was cut to fit the dead-letter topic: not replayed
   * (the cut bytes are not the event); their `source.*` headers point at the
   * whole original.
   */
  truncated: string[];
  /** Why the replay stopped early, if it did. */
  error: string | null;
}

/** A report with nothing done yet. */
export function emptyReplayReport(
  options: { dlqTopic: string; kind?: string | undefined; dryRun: boolean },
): ReplayReport {
  return {
    dlqTopic: options.dlqTopic,
    group: replayGroup(options.dlqTopic, options.kind),
    kind: options.kind ?? null,
    dryRun: options.dryRun,
    read: 0,
    published: {},
    alreadyReplayed: 0,
    otherKinds: 0,
    truncated: [],
    error: null,
  };
}

/**
 * Formats a replay report for people.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyReplayReport, formatReplayReport } from "./replay.ts";
 * const report = { ...emptyReplayReport({ dlqTopic: "plays.dlq", dryRun: false }), read: 2 };
 * report.published = { plays: 2 };
 * assert.match(formatReplayReport(report), /^Replayed 2 dead letters from plays\.dlq/);
 * ```
 */
export function formatReplayReport(report: ReplayReport): string {
  const total = Object.values(report.published).reduce((a, b) => a + b, 0);
  const verb = report.dryRun ? "Would replay" : "Replayed";
  const what = report.kind === null ? "dead letter" : `${report.kind} dead letter`;
  const lines = [
    `${verb} ${total} ${what}${
      total === 1 ? "" : "s"
    } from ${report.dlqTopic} (group ${report.group})`,
  ];
  const targets = Object.entries(report.published).sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(0, ...targets.map(([topic]) => topic.length));
  for (const [topic, count] of targets) lines.push(`  → ${topic.padEnd(width)}  ${count}`);
  if (total === 0 && report.read === 0) {
    lines.push("  nothing to replay (none new since the last replay)");
  }
  const skipped = [
    report.alreadyReplayed > 0 ? `${report.alreadyReplayed} replayed before with --kind` : "",
    report.otherKinds > 0 ? `${report.otherKinds} of other kinds (left for later)` : "",
    report.truncated.length > 0
      ? `${report.truncated.length} cut to fit the topic (originals at ${
        report.truncated.slice(0, 5).join(", ")
      }${report.truncated.length > 5 ? ", ..." : ""})`
      : "",
  ].filter((part) => part !== "");
  if (skipped.length > 0) lines.push(`  skipped: ${skipped.join(", ")}`);
  if (report.dryRun) lines.push("  dry run: nothing published, no progress recorded");
  if (report.error !== null) lines.push(`  stopped early: ${printableText(report.error, 500)}`);
  return `${lines.join("\n")}\n`;
}
