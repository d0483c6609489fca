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

import { errorMessage } from "./shared/errors.ts";
import { parseArgsOrExit } from "./shared/cli/mod.ts";
import { installKafkaPatches } from "./shared/kafka/mod.ts";
import { benchCatalog } from "./bench/catalog.ts";
import { benchCounting } from "./bench/counting.ts";
import {
  benchCatalogDayStart,
  benchCatalogStart,
  benchDashboardStart,
} from "./bench/dashboard_start.ts";
import { benchLatency } from "./bench/latency.ts";
import { loadAverage, machineInfo, versions } from "./bench/machine.ts";
import { benchMemory } from "./bench/memory.ts";
import { benchProduce } from "./bench/produce.ts";
import { type Id, IDS, options, PLAN } from "./bench/plan.ts";

/** The options of this script (listed in the configuration reference). */
export { options };
import { type BenchReport, type BenchResult, markdownTable, writeReport } from "./bench/report.ts";
import { BROKERS, emulatorState } from "./bench/services.ts";
import { benchSink } from "./bench/sink.ts";
import { benchSinkCeiling } from "./bench/sink_ceiling.ts";

const encoder = new TextEncoder();
function say(line: string): void {
  Deno.stderr.writeSync(encoder.encode(`${line}\n`));
}

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task bench [--quick] [--long] [--only ID[,ID]] [--out FILE]",
    summary: "Benchmarks the producer, the consumer, the dashboard's latency and memory, its " +
      "counter at catalog scale " +
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
    sink_ceiling: () => benchSinkCeiling({ ...plan.sink_ceiling, log: say }),
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
    catalog_start: () => benchCatalogStart({ ...plan.catalog_start, log: say }),
    catalog_day_start: () => benchCatalogDayStart({ ...plan.catalog_day_start, log: say }),
    catalog: () => benchCatalog({ ...plan.catalog, log: say }),
    counting: () => benchCounting({ ...plan.counting, log: say }),
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

if (import.meta.main) {
  main().then(Deno.exit, (error) => {
    console.error(`error: ${errorMessage(error)}`);
    Deno.exit(1);
  });
}
