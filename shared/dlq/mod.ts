/**
 * The dead letters: the format the sink writes (the original bytes plus
 * `error.*` and `source.*` headers) and the dead-letter topic's settings, and
 * what `deno task dlq` does with them: a report grouped by reason, and the
 * replay that re-publishes letters to the topic they came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deadLetter } from "./mod.ts";
 * const letter = deadLetter(
 *   { key: null, value: new Uint8Array([1]), offset: "7", timestamp: "0" },
 *   "plays",
 *   0,
 *   { kind: "invalid-json", reason: "Cannot parse event: the message is not valid JSON" },
 * );
 * assert.equal(letter.headers["error.kind"], "invalid-json");
 * ```
 *
 * @module
 */

export {
  DEAD_LETTER_TOPIC_CONFIG,
  deadLetter,
  type DeadLetterKind,
  type Failure,
  type OutgoingMessage,
  type SourceMessage,
} from "./dead_letter.ts";
export { fitLetter, letterBytes, TRUNCATION_HEADERS } from "./fit_letter.ts";
export { listDeadLetters, type ListOptions } from "./list_letters.ts";
export { dlqToolOptions } from "./options.ts";
export { formatReplayReport, type ReplayReport } from "./replay.ts";
export { replayDeadLetters, type ReplayOptions } from "./replay_letters.ts";
export { type DlqReport, formatReport } from "./report.ts";
