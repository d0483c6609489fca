/**
 * The calendar of the windows: their names, lengths and buckets, where each
 * starts at a wall time and what it holds, how a window's plays are laid out
 * as a series of points, and how a song's rank moved since the period
 * before. Pure functions of time; the counter (windows.ts) keeps the counts.
 *
 * @module
 */

/** Names of the windows, shortest first. */
export const WINDOW_NAMES = ["5m", "1h", "24h", "all"] as const;

/** A window name. */
export type WindowName = typeof WINDOW_NAMES[number];

/** Length and bucket width of a window (`lengthMs` undefined for `all`). */
export interface WindowSpec {
  lengthMs: number | undefined;
  bucketMs: number;
  /** Human label, e.g. `last 5 minutes`. */
  label: string;
}

/** The windows the dashboard offers. */
export const WINDOWS: Readonly<Record<WindowName, WindowSpec>> = {
  "5m": { lengthMs: 5 * 60_000, bucketMs: 1_000, label: "last 5 minutes" },
  "1h": { lengthMs: 60 * 60_000, bucketMs: 10_000, label: "last hour" },
  "24h": { lengthMs: 24 * 60 * 60_000, bucketMs: 60_000, label: "last 24 hours" },
  all: { lengthMs: undefined, bucketMs: 0, label: "all time" },
};

/** A window with a length (not `all`). */
export type FiniteWindowName = Exclude<WindowName, "all">;

/** The finite windows, shortest first. */
export const FINITE_WINDOWS: readonly FiniteWindowName[] = ["5m", "1h", "24h"];

/** Longest finite window, the default allowed lateness. */
export const LONGEST_WINDOW_MS = 24 * 60 * 60_000;

/** Default dedup horizon: ids read in the last 10 minutes. */
export const DEFAULT_DEDUP_HORIZON_MS = 10 * 60_000;

/** Whether `value` is a window name. */
export function isWindowName(value: string): value is WindowName {
  return (WINDOW_NAMES as readonly string[]).includes(value);
}

/**
 * Start of `window` at wall time `now` (ms since the epoch), aligned to the
 * window's buckets; `undefined` for `all`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { windowStart } from "./calendar.ts";
 * const now = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
 * assert.equal(windowStart("5m", now), Date.UTC(2026, 0, 1, 11, 55, 1));
 * assert.equal(windowStart("all", Date.now()), undefined);
 * ```
 */
export function windowStart(window: WindowName, now: number): number | undefined {
  const spec = WINDOWS[window];
  if (spec.lengthMs === undefined) return undefined;
  return Math.ceil((now - spec.lengthMs) / spec.bucketMs) * spec.bucketMs;
}

/** Windows whose previous period is held (the day before 24 hours is not). */
export const KEEPS_PREVIOUS: Readonly<Record<FiniteWindowName, boolean>> = {
  "5m": true,
  "1h": true,
  "24h": false,
};

/**
 * Oldest bucket start a finite `window` holds at `now`: its start, less one
 * window for `5m` and `1h` (their previous period, for rank changes).
 * BigQuery's history is asked from here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldFrom, windowStart } from "./calendar.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * assert.equal(heldFrom("5m", now), windowStart("5m", now)! - 300_000);
 * assert.equal(heldFrom("24h", now), windowStart("24h", now));
 * ```
 */
export function heldFrom(window: FiniteWindowName, now: number): number {
  const from = windowStart(window, now)!;
  return KEEPS_PREVIOUS[window] ? from - WINDOWS[window].lengthMs! : from;
}

/** Most points in a song's series (see {@linkcode seriesLayout}). */
export const MAX_SERIES_POINTS = 60;

/** Where a window's series points lie: `points` points of `pointMs` from `from`. */
export interface SeriesLayout {
  from: number;
  pointMs: number;
  points: number;
}

/**
 * The series points of a finite `window` at `now`: whole multiples of the
 * bucket width, aligned to the epoch (a point does not change as the window
 * slides), at most {@linkcode MAX_SERIES_POINTS}; the first one starts at or
 * before the window's start and only its part inside the window counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seriesLayout } from "./calendar.ts";
 * const now = Date.UTC(2026, 0, 1, 12);
 * const layout = seriesLayout("5m", now);
 * assert.equal(layout.pointMs, 6_000);
 * assert.ok(layout.points <= 60);
 * assert.equal(layout.from + (layout.points - 1) * layout.pointMs, now);
 * ```
 */
export function seriesLayout(window: FiniteWindowName, now: number): SeriesLayout {
  const spec = WINDOWS[window];
  const pointMs = spec.bucketMs *
    Math.ceil(spec.lengthMs! / spec.bucketMs / (MAX_SERIES_POINTS - 1));
  const first = Math.floor(windowStart(window, now)! / pointMs);
  return { from: first * pointMs, pointMs, points: Math.floor(now / pointMs) - first + 1 };
}

/**
 * The point of `layout` a bucket starting at `start` adds to: -1 before the
 * layout, the last point after it (a clock running ahead).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pointOf } from "./calendar.ts";
 * const layout = { from: 0, pointMs: 10, points: 3 };
 * assert.deepEqual([-5, 0, 5, 20, 99].map((start) => pointOf(layout, start)), [-1, 0, 0, 2, 2]);
 * ```
 */
export function pointOf(layout: SeriesLayout, start: number): number {
  if (start < layout.from) return -1;
  return Math.min(layout.points - 1, Math.floor((start - layout.from) / layout.pointMs));
}

/** A rank change: places gained (negative: lost), `new` when absent before. */
export type RankChange = number | "new";

/**
 * Places gained from `previous` rank to `rank`; `new` when the song had no
 * previous rank.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankChange } from "./calendar.ts";
 * assert.equal(rankChange(1, 3), 2);
 * assert.equal(rankChange(4, 3), -1);
 * assert.equal(rankChange(2, undefined), "new");
 * ```
 */
export function rankChange(rank: number, previous: number | undefined): RankChange {
  return previous === undefined ? "new" : previous - rank;
}
