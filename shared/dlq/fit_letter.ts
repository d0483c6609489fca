/**
 * Dead letters that fit their topic: a letter larger than the dead-letter
 * topic's `max.message.bytes` would be refused by the broker for good, so the
 * consumer would stop, restart and stop again on the same message. Instead
 * its value is cut to fit, and headers say so and how large it was; the
 * `source.*` headers already point at the whole original in the source topic.
 *
 * @module
 */

import type { OutgoingMessage } from "./dead_letter.ts";

/** Headers added to a letter whose value was cut to fit the topic. */
export const TRUNCATION_HEADERS = {
  /** `"true"` on a cut letter. */
  truncated: "original.truncated",
  /** The original value's size in bytes. */
  size: "original.size",
} as const;

/**
 * Bytes a record batch of this one letter takes at most on the broker: the
 * batch header (61 bytes), the record's own fields (at most 21 bytes), and
 * each length written as a varint (5 bytes at most).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { letterBytes } from "./fit_letter.ts";
 * const bytes = letterBytes({ key: null, value: new Uint8Array(100), headers: { a: "b" } });
 * assert.ok(bytes >= 100 + 2 && bytes < 100 + 2 + 120);
 * ```
 */
export function letterBytes(letter: OutgoingMessage): number {
  const encoder = new TextEncoder();
  const size = (value: Uint8Array | string | null): number =>
    value === null
      ? 0
      : typeof value === "string"
      ? encoder.encode(value).byteLength
      : value.byteLength;
  let bytes = 61 + 21 + 5 + size(letter.key) + 5 + size(letter.value) + 5;
  for (const [name, value] of Object.entries(letter.headers)) {
    bytes += 5 + size(name) + 5 + size(value);
  }
  return bytes;
}

/**
 * `letter` as it fits a topic taking record batches of at most `maxBytes`:
 * unchanged when it fits, else its value cut and the truncation headers
 * added. Throws when even an empty value does not fit (headers and key alone
 * are too large), which no topic setting a user can make allows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitLetter, letterBytes } from "./fit_letter.ts";
 * const letter = { key: null, value: new Uint8Array(10_000), headers: { "error.kind": "invalid-json" } };
 * assert.equal(fitLetter(letter, 1_000_000), letter);
 * const cut = fitLetter(letter, 2_000);
 * assert.ok(letterBytes(cut) <= 2_000);
 * assert.equal(cut.headers["original.size"], "10000");
 * assert.equal(cut.headers["original.truncated"], "true");
 * ```
 */
export function fitLetter(letter: OutgoingMessage, maxBytes: number): OutgoingMessage {
  if (letterBytes(letter) <= maxBytes) return letter;
  const original = letter.value === null ? 0 : letter.value.byteLength;
  const headers = {
    ...letter.headers,
    [TRUNCATION_HEADERS.truncated]: "true",
    [TRUNCATION_HEADERS.size]: String(original),
  };
  const rest = letterBytes({ ...letter, value: null, headers });
  const room = maxBytes - rest;
  if (room < 0) {
    throw new RangeError(
      `Cannot fit a dead letter into ${maxBytes} bytes: its key and headers alone take ${rest}`,
    );
  }
  return { ...letter, value: (letter.value ?? new Uint8Array()).subarray(0, room), headers };
}
