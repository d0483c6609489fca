/**
 * Parses durations given on the command line: `500ms`, `90s`, `15m`, `24h`,
 * `2d`, or a bare number of seconds.
 *
 * @module
 */

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds in `raw`; throws a message saying what was expected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./duration.ts";
 * assert.equal(parseDuration("15m"), 900_000);
 * assert.equal(parseDuration("30"), 30_000);
 * assert.throws(() => parseDuration("soon"), /must be a duration like 90s/);
 * ```
 */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  if (match === null) {
    throw new Error(`must be a duration like 90s, 15m, 24h or 2d, got ${JSON.stringify(raw)}`);
  }
  const value = Math.round(Number(match[1]) * UNITS[match[2] ?? "s"]!);
  if (!Number.isSafeInteger(value)) {
    throw new Error(`must be a duration under 285,000 years, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Formats milliseconds with the largest unit that divides them exactly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./duration.ts";
 * assert.equal(formatDuration(86_400_000), "1d");
 * assert.equal(formatDuration(90_000), "90s");
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"]) {
    const size = UNITS[unit]!;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
