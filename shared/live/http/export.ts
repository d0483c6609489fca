/**
 * The dashboard's current view as a file to download: CSV (one row per
 * song) and JSON (the `/api/top` document), same numbers as the API.
 *
 * @module
 */

import type { TopDocument } from "./top_document.ts";

/** Columns of {@linkcode topCsv}, in order. */
export const CSV_COLUMNS = [
  "artist",
  "window",
  "from",
  "updated_at",
  "rank",
  "song_id",
  "song_name",
  "plays",
  "rank_change",
] as const;

/**
 * One CSV field: quoted when it holds a comma, quote or line break; text a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is
 * prefixed with `'`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvField } from "./export.ts";
 * assert.equal(csvField("zombie"), "zombie");
 * assert.equal(csvField('say "hi", then'), '"say ""hi"", then"');
 * assert.equal(csvField("=1+1"), "'=1+1");
 * assert.equal(csvField(-2), "-2");
 * ```
 */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/**
 * The document as CSV: a header, then one line per listed song (most played
 * first), lines ending in CRLF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topCsv } from "./export.ts";
 * const csv = topCsv({
 *   artist: "tony-allen", window: "all", from: null, updated_at: "2026-01-01T12:00:00.000Z",
 *   total: 3, songs: [{ song_id: 1, song_name: "zombie", plays: 3, rank_change: null, series: null }],
 *   series: null, plays_per_second: 0, last_event_at: null, newest_event_at: null,
 *   kafka_lag: null, state: "live", problems: [],
 * });
 * assert.equal(
 *   csv,
 *   "artist,window,from,updated_at,rank,song_id,song_name,plays,rank_change\r\n" +
 *     "tony-allen,all,,2026-01-01T12:00:00.000Z,1,1,zombie,3,\r\n",
 * );
 * ```
 */
export function topCsv(doc: TopDocument): string {
  const lines = [CSV_COLUMNS.join(",")];
  doc.songs.forEach((song, i) => {
    lines.push(
      [
        doc.artist,
        doc.window,
        doc.from,
        doc.updated_at,
        i + 1,
        song.song_id,
        song.song_name,
        song.plays,
        song.rank_change,
      ].map(csvField).join(","),
    );
  });
  return lines.map((line) => `${line}\r\n`).join("");
}

/** File name of an export, e.g. `tony-allen-1h-2026-01-01T12-00-00Z.csv`. */
export function exportFileName(doc: TopDocument, extension: "csv" | "json"): string {
  const at = doc.updated_at.replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  return `${doc.artist}-${doc.window}-${at}.${extension}`;
}
