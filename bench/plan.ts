/**
 * What `deno task bench` runs: the benchmarks' ids, the command-line options
 * and the sizes of a full and of a quick run.
 *
 * @module
 */

import { boolean, optional, text } from "../shared/cli/mod.ts";

export const IDS = [
  "produce",
  "sink",
  "sink_ceiling",
  "latency",
  "memory",
  "dashboard_start",
  "catalog_start",
  "catalog_day_start",
  "catalog",
  "counting",
] as const;
export type Id = typeof IDS[number];

/** Options of `deno task bench`. */
export const options = {
  quick: {
    flag: "quick",
    help: "Reduced sizes and repetitions (under 3 minutes), same fields",
    fallback: false,
    parse: boolean,
  },
  long: {
    flag: "long",
    help: "Also the largest sizes (dashboard_start at 10 M plays of history)",
    fallback: false,
    parse: boolean,
  },
  only: {
    flag: "only",
    arg: "ID[,ID]",
    help: `Run only these benchmarks (${IDS.join(", ")})`,
    fallback: undefined,
    parse: (raw: string): Id[] => {
      const ids = text(/^[a-z_]+(,[a-z_]+)*$/, "ids separated by commas")(raw).split(",");
      const unknown = ids.filter((id) => !IDS.some((known) => known === id));
      if (unknown.length > 0) {
        throw new Error(`must be among ${IDS.join(", ")}, got ${JSON.stringify(unknown[0])}`);
      }
      return IDS.filter((id) => ids.includes(id));
    },
  },
  out: {
    flag: "out",
    arg: "FILE",
    help: "Where to write the JSON",
    fallback: undefined,
    fallbackHelp: "bench/results.json; bench/tmp/results-quick.json with --quick or --only",
    parse: optional,
  },
};

/**
 * The settings `sink_ceiling` sweeps (appends in flight per partition, rows
 * per append), one run each; the defaults are 2 and 2,000. The last two
 * points keep the defaults but run V8 with other flags than the consume
 * task's (semi-spaces of 2 MB, the old generation grown by 35 % between
 * collections): grown by 15 % (the task's flags before, smaller and
 * slower), and let grow as V8 does by default (faster, larger): what speed
 * costs in memory.
 */
const SWEEP = [
  { concurrency: 1, batchRows: 2_000 },
  { concurrency: 4, batchRows: 2_000 },
  { concurrency: 2, batchRows: 500 },
  { concurrency: 2, batchRows: 5_000 },
  {
    concurrency: 2,
    batchRows: 2_000,
    v8Flags: "--max-semi-space-size=2,--heap-growing-percent=15",
  },
  { concurrency: 2, batchRows: 2_000, v8Flags: "--max-semi-space-size=2" },
];

/** Sizes of a full and of a quick run. */
export const PLAN = {
  full: {
    produce: { events: 200_000, repetitions: 3 },
    sink: { events: 200_000, repetitions: 3, tutorialSeconds: 20 },
    sink_ceiling: { events: 1_000_000, repetitions: 3, sweep: SWEEP },
    latency: { rate: 1_000, seconds: 60, repetitions: 3 },
    memory: { events: 1_000_000, repetitions: 2 },
    dashboard_start: { sizes: [100_000, 1_000_000], starts: 3 },
    catalog_start: { songs: 1_000_000, starts: 3 },
    catalog_day_start: { plays: 10_000_000, songs: 1_000_000, skew: 4, starts: 2 },
    catalog: { songs: 100_000, plays: 1_000_000, repetitions: 3, latencyArtists: 100_000 },
    counting: {
      small: 20_000,
      large: 200_000,
      artists: 100_000,
      viewers: 1_000,
      repetitions: 3,
    },
  },
  quick: {
    produce: { events: 50_000, repetitions: 3 },
    sink: { events: 20_000, repetitions: 3, tutorialSeconds: 6 },
    sink_ceiling: { events: 100_000, repetitions: 1, sweep: [] },
    latency: { rate: 1_000, seconds: 15, repetitions: 1 },
    memory: { events: 100_000, repetitions: 1 },
    dashboard_start: { sizes: [10_000, 100_000], starts: 2 },
    catalog_start: { songs: 100_000, starts: 1 },
    catalog_day_start: { plays: 200_000, songs: 100_000, skew: 4, starts: 1 },
    catalog: { songs: 20_000, plays: 200_000, repetitions: 1, latencyArtists: 20_000 },
    counting: { small: 20_000, large: 200_000, artists: 20_000, viewers: 200, repetitions: 1 },
  },
};
