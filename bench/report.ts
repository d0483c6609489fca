/**
 * The shape of `bench/results.json` and its rendering as a Markdown table.
 *
 * @module
 */

import { dirname } from "node:path";
import type { Summary } from "./stats.ts";

/** A reference measured in the same run, with `ours / reference`. */
export interface MeasuredReference extends Summary {
  name: string;
  /** `ours.median / median` (how many times the reference we are). */
  ratio: number;
}

/** A reference that could not be measured (e.g. a tool is not installed). */
export interface SkippedReference {
  name: string;
  skipped: string;
}

/** A reference of a result. */
export type Reference = MeasuredReference | SkippedReference;

/** One row of the benchmark. */
export interface BenchResult {
  id: string;
  what: string;
  unit: string;
  repetitions: number;
  ours: Summary;
  /** The reference the target is stated against (`null` when there is none). */
  reference: Reference | null;
  /** `ours / reference` for that reference (`null` when there is none). */
  ratio: number | null;
  /** Every reference measured in the same run, each with its own ratio. */
  references: Reference[];
  target: string;
  met: boolean;
  /** How the figures were measured. */
  method: string;
  /** Per-repetition figures and anything else worth keeping. */
  details: Record<string, unknown>;
}

/** The whole of `bench/results.json`. */
export interface BenchReport {
  mode: "full" | "quick";
  started_at: string;
  duration_s: number;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  /** State of the services at the start (the emulator's speed depends on it). */
  services: Record<string, unknown>;
  results: BenchResult[];
}

/** Whether a reference was measured. */
export function isMeasured(reference: Reference | null): reference is MeasuredReference {
  return reference !== null && "median" in reference;
}

/**
 * A figure for people: three significant digits, `k`/`M` for large counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatValue } from "./report.ts";
 * assert.equal(formatValue(61_234), "61.2k");
 * assert.equal(formatValue(412.6), "413");
 * assert.equal(formatValue(1_500_000), "1.50M");
 * assert.equal(formatValue(0.8123), "0.812");
 * ```
 */
export function formatValue(value: number): string {
  const size = Math.abs(value);
  if (size >= 999_500) return `${(value / 1e6).toPrecision(3)}M`;
  if (size >= 9_995) return `${(value / 1e3).toPrecision(3)}k`;
  if (size >= 100) return String(Math.round(value));
  if (size === 0) return "0";
  return String(Number(value.toPrecision(3)));
}

/** `median (min–max) unit`. */
export function formatSummary(summary: Summary, unit: string): string {
  const range = summary.min === summary.max
    ? ""
    : ` (${formatValue(summary.min)}–${formatValue(summary.max)})`;
  return `${formatValue(summary.median)}${range} ${unit}`;
}

function formatReference(reference: Reference, unit: string): string {
  return isMeasured(reference)
    ? `${reference.name}: ${formatSummary(reference, unit)}`
    : `${reference.name}: skipped (${reference.skipped})`;
}

function formatRatio(reference: Reference): string | undefined {
  return isMeasured(reference) ? `${reference.ratio} × ${reference.name}` : undefined;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * The results as a Markdown table: one row per result, references and
 * ratios measured in the same run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markdownTable } from "./report.ts";
 * const [header, rule, ...rows] = markdownTable([]).split("\n");
 * assert.match(header ?? "", /^\| id \| what \| ours/);
 * assert.equal(rule, "|---|---|---|---|---|---|---|");
 * assert.deepEqual(rows, []);
 * ```
 */
export function markdownTable(results: readonly BenchResult[]): string {
  const header =
    "| id | what | ours: median (min–max) | reference, same run | ratio | target | met |";
  const rule = "|---|---|---|---|---|---|---|";
  const rows = results.map((result) => {
    const references = result.references.map((r) => formatReference(r, result.unit));
    const ratios = result.references.map(formatRatio).filter((r) => r !== undefined);
    return `| ${
      [
        result.id,
        result.what,
        formatSummary(result.ours, result.unit),
        references.length > 0 ? references.join("; ") : "—",
        ratios.length > 0 ? ratios.join("; ") : "—",
        result.target,
        result.met ? "yes" : "**no**",
      ].map(cell).join(" | ")
    } |`;
  });
  return [header, rule, ...rows].join("\n");
}

/** Writes the JSON, creating its directory (`bench/tmp/`) when missing. */
export async function writeReport(out: string, report: BenchReport): Promise<void> {
  const text = `${JSON.stringify(report, null, 2)}\n`;
  try {
    await Deno.writeTextFile(out, text);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dirname(out), { recursive: true });
    await Deno.writeTextFile(out, text);
  }
}
