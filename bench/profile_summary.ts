/**
 * Summarizes a V8 CPU profile (`deno run --cpu-prof`): the share of samples
 * in garbage collection, in the runtime outside JavaScript (`(program)`),
 * idle, and the functions with the most self time, with where they are.
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
 * ```
 */
export function summarizeProfile(profile: unknown, top = 15): ProfileSummary {
  if (!isRecord(profile) || !Array.isArray(profile.samples)) {
    throw new Error("Cannot read the profile: it has no samples");
  }
  const byId = new Map(nodesOf(profile).map((node) => [node.id, node]));
  const counts = new Map<string, ProfileLine>();
  const samples: unknown[] = profile.samples;
  let total = 0;
  const buckets = { gc: 0, program: 0, idle: 0 };
  for (const id of samples) {
    const node = typeof id === "number" ? byId.get(id) : undefined;
    if (node === undefined) continue;
    total++;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(garbage collector)") buckets.gc++;
    else if (functionName === "(program)") buckets.program++;
    else if (functionName === "(idle)") buckets.idle++;
    const name = functionName === "" ? "(anonymous)" : functionName;
    const where = url === "" ? "" : `${shortUrl(url)}:${lineNumber + 1}`;
    const key = `${name} ${where}`;
    const line = counts.get(key) ?? { name, where, percent: 0 };
    line.percent++;
    counts.set(key, line);
  }
  const share = (n: number) => Math.round((n * 1000) / Math.max(total, 1)) / 10;
  const deltas: unknown[] = Array.isArray(profile.timeDeltas) ? profile.timeDeltas : [];
  const micros = deltas.reduce((sum: number, d) => sum + (typeof d === "number" ? d : 0), 0);
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
