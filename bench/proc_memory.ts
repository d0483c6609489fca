/**
 * Resident memory of a running process, sampled from `/proc/<pid>/status`:
 * `VmRSS` (resident now) and `VmHWM` (the kernel's high-water mark, so no
 * peak is missed between two samples). Linux only; needs `sh`.
 *
 * @module
 */

import { spawn } from "./processes.ts";

/** One reading of `/proc/<pid>/status`, in kilobytes. */
export interface ProcMemory {
  rssKb: number;
  hwmKb: number;
  /** CPU time used so far (user + system, `/proc/<pid>/stat`), in seconds, when read. */
  cpuSeconds?: number;
}

/** A reading with when it was taken and how far the workload was (0–1). */
export interface MemorySample extends ProcMemory {
  at: number;
  progress: number;
}

/**
 * Reads `VmRSS` and `VmHWM` from the text of `/proc/<pid>/status`, or
 * `undefined` when either is missing (a process that is exiting).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProcStatus } from "./proc_memory.ts";
 * const text = "Name:\tdeno\nVmHWM:\t  90112 kB\nVmRSS:\t  81920 kB\n";
 * assert.deepEqual(parseProcStatus(text), { rssKb: 81920, hwmKb: 90112 });
 * ```
 */
export function parseProcStatus(text: string): ProcMemory | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    return match === null ? undefined : Number(match[1]);
  };
  const rssKb = field("VmRSS");
  const hwmKb = field("VmHWM");
  if (rssKb === undefined || hwmKb === undefined) return undefined;
  const cpuSeconds = cpuSecondsOf(/^Stat: (.*)$/m.exec(text)?.[1] ?? "");
  return cpuSeconds === undefined ? { rssKb, hwmKb } : { rssKb, hwmKb, cpuSeconds };
}

/** Linux reports `/proc/<pid>/stat` times in USER_HZ, 100 a second on every architecture it runs on. */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) from the text of `/proc/<pid>/stat`, or
 * `undefined` when it cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpuSecondsOf } from "./proc_memory.ts";
 * const stat = "42 (deno) S 1 42 42 0 -1 4194560 9 0 0 0 1234 56 0 0 20 0 8 0 100";
 * assert.equal(cpuSecondsOf(stat), 12.9);
 * ```
 */
export function cpuSecondsOf(stat: string): number | undefined {
  // The command name may hold spaces: the fields counted are those after its ")".
  const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const user = Number(after[11]);
  const system = Number(after[12]);
  if (stat.lastIndexOf(")") < 0 || !Number.isInteger(user) || !Number.isInteger(system)) {
    return undefined;
  }
  return (user + system) / USER_HZ;
}

/**
 * RSS (MB) of the first sample at or past each progress fraction, e.g. at
 * 25, 50, 75 and 100 % of the events: a flat process shows about the same
 * figure at every point. `undefined` where the workload never got that far.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rssAtProgress } from "./proc_memory.ts";
 * const samples = [0.1, 0.3, 0.6, 1].map((progress, i) => ({
 *   at: i, progress, rssKb: 50_000 + i * 1_000, hwmKb: 60_000,
 * }));
 * assert.deepEqual(rssAtProgress(samples, [0.25, 1]), [52.224, 54.272]);
 * ```
 */
export function rssAtProgress(
  samples: readonly MemorySample[],
  fractions: readonly number[],
): (number | undefined)[] {
  return fractions.map((fraction) => {
    const sample = samples.find((s) => s.progress >= fraction);
    return sample === undefined ? undefined : Math.round(sample.rssKb * 1.024) / 1000;
  });
}

/** Peak resident memory in MB (decimal) over samples: the largest high-water mark. */
export function peakMb(samples: readonly MemorySample[]): number {
  const kb = samples.reduce((peak, s) => Math.max(peak, s.hwmKb, s.rssKb), 0);
  return Math.round(kb * 1.024) / 1000;
}

/** A running sampler. */
export interface MemorySampler {
  readonly samples: MemorySample[];
  /** Stops sampling; resolves with every sample taken. */
  stop(): Promise<MemorySample[]>;
}

// Deno asks for --allow-all to read /proc/<pid> of a process it started, so
// a small shell loop reads the files and prints VmHWM/VmRSS (and the stat
// line, for CPU time) in frames ending in "--".
const LOOP = `while [ -r "/proc/$1/status" ]; do
  grep -E '^Vm(HWM|RSS):' "/proc/$1/status" && read -r stat < "/proc/$1/stat" &&
    echo "Stat: $stat" && echo "--"
  sleep "$2"
done`;

/**
 * Samples `/proc/<pid>/status` every `intervalMs` (default 250 ms) until the
 * process ends or `stop()`, tagging each sample with `progress()` at the time
 * it arrived.
 */
export function sampleMemory(
  pid: number,
  options: { intervalMs?: number; progress: () => number },
): MemorySampler {
  const samples: MemorySample[] = [];
  let frame: string[] = [];
  const seconds = ((options.intervalMs ?? 250) / 1000).toFixed(3);
  const loop = spawn("sh", ["-c", LOOP, "sh", String(pid), seconds], {
    keepLines: 8,
    onLine: (line) => {
      if (line.stream !== "stdout") return;
      if (line.text !== "--") {
        frame.push(line.text);
        return;
      }
      const memory = parseProcStatus(frame.join("\n"));
      frame = [];
      if (memory !== undefined) {
        samples.push({ at: line.at, progress: options.progress(), ...memory });
      }
    },
  });
  return {
    samples,
    async stop() {
      loop.kill("SIGTERM");
      await loop.done;
      return samples;
    },
  };
}
