/**
 * `deno task bench`: measures the pipeline on the local services
 * (`deno task up`) against references measured in the same run, prints a
 * Markdown table and writes the figures as JSON.
 *
 * A full run (the default) writes `bench/results.json`; `--quick` runs a
 * reduced version (under 3 minutes, same fields) and `--only` a subset, both
 * written under `bench/tmp/` unless `--out` says otherwise, so a quick check
 * never overwrites the committed results.
 *
 * @module
 */

import { dirname } from "node:path";
import { errorMessage } from "./shared/errors.ts";
import { parseArgsOrExit } from "./shared/cli/mod.ts";
import { installKafkaPatches } from "./shared/kafka/mod.ts";
import { boolean, optional, text } from "./shared/cli/mod.ts";
import { benchDashboardStart } from "./bench/dashboard_start.ts";
import { benchLatency } from "./bench/latency.ts";
import { loadAverage, machineInfo, versions } from "./bench/machine.ts";
import { benchMemory } from "./bench/memory.ts";
import { benchProduce } from "./bench/produce.ts";
import { type BenchReport, type BenchResult, markdownTable } from "./bench/report.ts";
import { BROKERS, emulatorState } from "./bench/services.ts";
import { benchSink } from "./bench/sink.ts";

const IDS = ["produce", "sink", "latency", "memory", "dashboard_start"] as const;
type Id = typeof IDS[number];

const options = {
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

/** Sizes of a full and of a quick run. */
const PLAN = {
  full: {
    produce: { events: 200_000, repetitions: 3 },
    sink: { events: 200_000, repetitions: 3, tutorialSeconds: 20 },
    latency: { rate: 1_000, seconds: 60, repetitions: 3 },
    memory: { events: 1_000_000, repetitions: 2 },
    dashboard_start: { sizes: [100_000, 1_000_000], starts: 3 },
  },
  quick: {
    produce: { events: 50_000, repetitions: 3 },
    sink: { events: 20_000, repetitions: 3, tutorialSeconds: 6 },
    latency: { rate: 1_000, seconds: 15, repetitions: 1 },
    memory: { events: 100_000, repetitions: 1 },
    dashboard_start: { sizes: [10_000, 100_000], starts: 2 },
  },
};

const encoder = new TextEncoder();
function say(line: string): void {
  Deno.stderr.writeSync(encoder.encode(`${line}\n`));
}

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task bench [--quick] [--long] [--only ID[,ID]] [--out FILE]",
    summary: "Benchmarks the producer, the consumer, the dashboard's latency and memory " +
      "against references measured in the same run (needs `deno task up`).",
  }, options);
  const mode = config.quick ? "quick" : "full";
  const plan = PLAN[mode];
  const ids = config.only ?? [...IDS];
  const out = config.out ??
    (config.quick || config.only !== undefined
      ? "bench/tmp/results-quick.json"
      : "bench/results.json");
  const started = performance.now();
  const report: BenchReport = {
    mode,
    started_at: new Date().toISOString(),
    duration_s: 0,
    machine: await machineInfo(),
    versions: await versions(),
    services: { kafka: BROKERS.join(","), emulator: await emulatorState() },
    results: [],
  };
  const load = await loadAverage();
  if (load !== undefined && load[0]! > 1.5) {
    say(`note: the machine is busy (load average ${load.join(" ")}): figures will be noisy`);
  }
  const runners: Record<Id, () => Promise<BenchResult>> = {
    produce: () => benchProduce({ ...plan.produce, log: say }),
    sink: () => benchSink({ ...plan.sink, log: say }),
    latency: () => benchLatency({ ...plan.latency, log: say }),
    memory: () => benchMemory({ ...plan.memory, log: say }),
    dashboard_start: () =>
      benchDashboardStart({
        ...plan.dashboard_start,
        sizes: config.long
          ? [...plan.dashboard_start.sizes, 10_000_000]
          : plan.dashboard_start.sizes,
        log: say,
      }),
  };
  let failed = 0;
  for (const id of ids) {
    say(`== ${id} (${mode})`);
    try {
      report.results.push(await runners[id]());
    } catch (error) {
      failed++;
      say(`error: ${id} failed: ${errorMessage(error)}`);
    }
    report.duration_s = Math.round((performance.now() - started) / 1000);
    report.machine.load_average_at_end = await loadAverage();
    await writeReport(out, report); // after each benchmark: a late failure loses nothing
  }
  console.log(markdownTable(report.results));
  say(`\n${mode} run in ${report.duration_s} s; results written to ${out}`);
  return failed === 0 ? 0 : 1;
}

/** Writes the JSON, creating its directory (`bench/tmp/`) when missing. */
async function writeReport(out: string, report: BenchReport): Promise<void> {
  const text = `${JSON.stringify(report, null, 2)}\n`;
  try {
    await Deno.writeTextFile(out, text);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dirname(out), { recursive: true });
    await Deno.writeTextFile(out, text);
  }
}

if (import.meta.main) {
  main().then(Deno.exit, (error) => {
    console.error(`error: ${errorMessage(error)}`);
    Deno.exit(1);
  });
}
