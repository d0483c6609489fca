/**
 * Event times as text: the canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ` (what
 * the producer writes and what rows hold) recognized and read from its
 * digits. Every event is checked and encoded through here, so neither the
 * check nor the parse builds a `Date` or a match array per event.
 *
 * @module
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written by the decimal digits of `text` from `from` to `to` (exclusive), or -1. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Whether `text` has the canonical form's separators and length. */
function hasCanonicalShape(text: string): boolean {
  return text.length === 24 && text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 84 && text.charCodeAt(13) === 58 && text.charCodeAt(16) === 58 &&
    text.charCodeAt(19) === 46 && text.charCodeAt(23) === 90;
}

/**
 * Milliseconds since the epoch of a canonical time at or after year
 * `minYear`, read from its digits; `undefined` when `text` is not one (a
 * date that does not exist, such as February 30, is not).
 */
function canonicalMs(text: string, minYear: number): number | undefined {
  if (!hasCanonicalShape(text)) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  const ms = digits(text, 20, 23);
  if (
    year < minYear || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
    hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0
  ) {
    return undefined;
  }
  // Date.UTC moves years 0-99 to 1900-1999: only called from year 100 on.
  return year >= 100 ? Date.UTC(year, month - 1, day, hour, minute, second, ms) : 0;
}

/**
 * Whether `text` is an event time in the canonical form: a real date and
 * time in years 1–9999, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCanonicalTimestamp } from "./event_time.ts";
 * assert.equal(isCanonicalTimestamp("2026-12-06T21:00:00.000Z"), true);
 * assert.equal(isCanonicalTimestamp("2026-02-30T21:00:00.000Z"), false);
 * assert.equal(isCanonicalTimestamp("2026-12-06 21:00:00"), false);
 * ```
 */
export function isCanonicalTimestamp(text: string): boolean {
  return canonicalMs(text, 1) !== undefined;
}

/**
 * Milliseconds since the epoch of an event time given as text: what
 * `Date.parse` answers, read from the digits when the text is canonical
 * (from year 100), and by `Date.parse` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEventTime } from "./event_time.ts";
 * assert.equal(parseEventTime("2026-12-06T21:00:00.500Z"), Date.UTC(2026, 11, 6, 21, 0, 0, 500));
 * assert.equal(parseEventTime("2026-12-06 21:00:00"), Date.parse("2026-12-06 21:00:00"));
 * assert.ok(Number.isNaN(parseEventTime("yesterday")));
 * ```
 */
export function parseEventTime(text: string): number {
  return canonicalMs(text, 100) ?? Date.parse(text);
}
