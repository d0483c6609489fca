/**
 * Summarizes a V8 CPU profile (`deno run --cpu-prof`): the share of the
 * sampled time in garbage collection, in the runtime outside JavaScript
 * (`(program)`), idle, and the functions with the most self time, with where
 * they are. Each sample counts for the time until the next one, as Chrome's
 * profiler shows it: V8 does not sample evenly (a dashboard's start once put
 * 55 % of its samples, 2 % of its time, into one parsing loop).
 *
 * `deno run --allow-read bench/profile_summary.ts FILE.cpuprofile [TOP]`
 * prints a Markdown table (bench/profiles.md keeps the ones that mattered).
 *
 * @module
 */

/** One line of the summary: a function (or a runtime bucket) and its share of the samples. */
export interface ProfileLine {
  name: string;
  where: string;
  percent: number;
}

/** What a profile says in a few lines. */
export interface ProfileSummary {
  /** Seconds covered by the samples. */
  seconds: number;
  gc: number;
  program: number;
  idle: number;
  top: ProfileLine[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function nodesOf(profile: Record<string, unknown>): ProfileNode[] {
  if (!Array.isArray(profile.nodes)) throw new Error("Cannot read the profile: it has no nodes");
  return profile.nodes.flatMap((node: unknown) => {
    if (!isRecord(node) || typeof node.id !== "number" || !isRecord(node.callFrame)) return [];
    const frame = node.callFrame;
    return [{
      id: node.id,
      callFrame: {
        functionName: typeof frame.functionName === "string" ? frame.functionName : "",
        url: typeof frame.url === "string" ? frame.url : "",
        lineNumber: typeof frame.lineNumber === "number" ? frame.lineNumber : 0,
      },
    }];
  });
}

/** Shortens a module URL to the part a reader recognizes. */
function shortUrl(url: string): string {
  const npm = /node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/
    .exec(url);
  if (npm !== null) return `${npm[1]}/${npm[2]!.split("/").slice(-2).join("/")}`;
  const local = /\/(shared\/.*|bench\/.*|[a-z_]+\.ts)$/.exec(url);
  return local?.[1] ?? url.split("/").slice(-2).join("/");
}

/**
 * Summarizes a parsed `.cpuprofile`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeProfile } from "./profile_summary.ts";
 * const frame = (functionName: string) => ({ functionName, url: "file:///r/shared/a.ts", lineNumber: 4 });
 * const profile = {
 *   nodes: [{ id: 1, callFrame: frame("(garbage collector)") }, { id: 2, callFrame: frame("f") }],
 *   samples: [1, 2, 2, 2],
 *   timeDeltas: [1000, 1000, 1000, 1000],
 * };
 * const summary = summarizeProfile(profile, 1);
 * assert.equal(summary.gc, 25);
 * assert.deepEqual(summary.top, [{ name: "f", where: "shared/a.ts:5", percent: 75 }]);
 * // Uneven samples: the first (GC) is followed by 3 ms, each of f's by 0.5 ms.
 * const uneven = summarizeProfile({ ...profile, timeDeltas: [1000, 3000, 500, 500] }, 1);
 * assert.equal(uneven.gc, 66.7);
 * assert.equal(uneven.top[0]?.percent, 33.3);
 * ```
 */
export function summarizeProfile(profile: unknown, top = 15): ProfileSummary {
  if (!isRecord(profile) || !Array.isArray(profile.samples)) {
    throw new Error("Cannot read the profile: it has no samples");
  }
  const byId = new Map(nodesOf(profile).map((node) => [node.id, node]));
  const counts = new Map<string, ProfileLine>();
  const samples: unknown[] = profile.samples;
  const deltas: unknown[] = Array.isArray(profile.timeDeltas) ? profile.timeDeltas : [];
  const deltaAt = (i: number) => {
    const delta = deltas[i];
    return typeof delta === "number" && delta > 0 ? delta : 0;
  };
  let total = 0;
  const buckets = { gc: 0, program: 0, idle: 0 };
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i];
    const node = typeof id === "number" ? byId.get(id) : undefined;
    if (node === undefined) continue;
    // The time until the next sample (the last one: its own interval).
    const weight = i + 1 < samples.length ? deltaAt(i + 1) : deltaAt(i);
    total += weight;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(garbage collector)") buckets.gc += weight;
    else if (functionName === "(program)") buckets.program += weight;
    else if (functionName === "(idle)") buckets.idle += weight;
    const name = functionName === "" ? "(anonymous)" : functionName;
    const where = url === "" ? "" : `${shortUrl(url)}:${lineNumber + 1}`;
    const key = `${name} ${where}`;
    const line = counts.get(key) ?? { name, where, percent: 0 };
    line.percent += weight;
    counts.set(key, line);
  }
  const share = (n: number) => Math.round((n * 1000) / Math.max(total, 1)) / 10;
  let micros = 0;
  for (let i = 0; i < deltas.length; i++) micros += deltaAt(i);
  return {
    seconds: Math.round(micros / 1e5) / 10,
    gc: share(buckets.gc),
    program: share(buckets.program),
    idle: share(buckets.idle),
    top: [...counts.values()]
      .filter((line) => !/^\((garbage collector|program|idle)\)$/.test(line.name))
      .sort((a, b) => b.percent - a.percent)
      .slice(0, top)
      .map((line) => ({ ...line, percent: share(line.percent) })),
  };
}

/** The summary as Markdown: the runtime buckets, then a table of the top functions. */
export function profileMarkdown(summary: ProfileSummary): string {
  const lines = [
    `${summary.seconds} s sampled: GC ${summary.gc} %, runtime outside JavaScript ` +
    `(\`(program)\`) ${summary.program} %, idle ${summary.idle} %`,
    "",
    "| self % | function | where |",
    "| -----: | -------- | ----- |",
    ...summary.top.map((line) => `| ${line.percent} | \`${line.name}\` | ${line.where} |`),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const [file, top] = Deno.args;
  if (file === undefined) {
    console.error("usage: deno run --allow-read bench/profile_summary.ts FILE.cpuprofile [TOP]");
    Deno.exit(2);
  }
  const profile: unknown = JSON.parse(await Deno.readTextFile(file));
  console.log(profileMarkdown(summarizeProfile(profile, Number(top ?? 25))));
}
