/**
 * What a benchmark ran on: the machine (cores, memory, load) and the
 * versions of everything measured, recorded next to the figures.
 *
 * @module
 */

import { capture, ROOT } from "./processes.ts";

async function readText(path: string | URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15 minute load averages (`/proc/loadavg`), or `undefined`. */
export async function loadAverage(): Promise<number[] | undefined> {
  const text = await readText("/proc/loadavg");
  return text?.trim().split(/\s+/).slice(0, 3).map(Number);
}

/** Cores, CPU model, memory, kernel and load of this machine. */
export async function machineInfo(): Promise<Record<string, unknown>> {
  const cpuinfo = await readText("/proc/cpuinfo") ?? "";
  const meminfo = await readText("/proc/meminfo") ?? "";
  const totalKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? NaN);
  return {
    cores: navigator.hardwareConcurrency,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memory_gb: Number.isFinite(totalKb) ? Math.round(totalKb / 1024 / 1024 * 10) / 10 : null,
    os: `${Deno.build.os} ${(await readText("/proc/sys/kernel/osrelease"))?.trim() ?? ""}`.trim(),
    arch: Deno.build.arch,
    load_average_at_start: await loadAverage(),
  };
}

/** Resolved npm package versions from deno.lock, e.g. `kafkajs` → `2.2.4`. */
export function lockedVersions(lock: unknown, names: readonly string[]): Record<string, string> {
  const npm = typeof lock === "object" && lock !== null && "npm" in lock ? lock.npm : undefined;
  const keys = typeof npm === "object" && npm !== null ? Object.keys(npm) : [];
  const versions: Record<string, string> = {};
  for (const name of names) {
    const key = keys.find((k) => k.startsWith(`${name}@`) && /^\d/.test(k.slice(name.length + 1)));
    versions[name] = key === undefined ? "unknown" : key.slice(name.length + 1).split("_")[0]!;
  }
  return versions;
}

/** Where the Kafka jars of `deno task up` are, and their version. */
export interface KafkaTools {
  version: string;
  /** The `lib` directory (a classpath of `<lib>/*`). */
  lib: string;
}

/** The pinned versions in infra/services.sh (what `deno task up` runs). */
async function pinnedVersions(): Promise<{ kafka?: string; bigquery?: string }> {
  const script = await readText(new URL("infra/services.sh", ROOT)) ?? "";
  const kafka = /^KAFKA_VERSION=(\S+)$/m.exec(script)?.[1];
  const bigquery = /^BQ_VERSION=(\S+)$/m.exec(script)?.[1];
  return {
    ...(kafka === undefined ? {} : { kafka }),
    ...(bigquery === undefined ? {} : { bigquery }),
  };
}

/**
 * The Kafka jars under `$LIVECHARTS_CACHE` (default `~/.cache/livecharts`),
 * or `undefined` when they are not there (e.g. services run in Docker).
 */
export async function kafkaTools(): Promise<KafkaTools | undefined> {
  const home = Deno.env.get("HOME") ?? "";
  const cache = Deno.env.get("LIVECHARTS_CACHE") ?? `${home}/.cache/livecharts`;
  const { kafka } = await pinnedVersions();
  if (kafka === undefined) return undefined;
  const lib = `${cache}/kafka-${kafka}/lib`;
  try {
    for await (const entry of Deno.readDir(lib)) {
      if (entry.name === `kafka-tools-${kafka}.jar`) return { version: kafka, lib };
    }
  } catch {
    // not installed
  }
  return undefined;
}

/** Versions of the runtime, the libraries, the services and the reference tools. */
export async function versions(): Promise<Record<string, string>> {
  const lock: unknown = JSON.parse(await readText(new URL("deno.lock", ROOT)) ?? "{}");
  const pinned = await pinnedVersions();
  const java = await capture("java", ["-version"]).catch(() => "");
  const kcat = await capture("kcat", ["-V"]).catch(() => "");
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    ...lockedVersions(lock, ["kafkajs", "@google-cloud/bigquery"]),
    kafka: pinned.kafka ?? "unknown",
    bigquery_emulator: `goccy/bigquery-emulator ${pinned.bigquery ?? "unknown"}`,
    java: /version "([^"]+)"/.exec(java)?.[1] ?? "not installed",
    kcat: /Version (\S+)/.exec(kcat)?.[1] ?? "not installed",
    librdkafka: /librdkafka (\S+)/.exec(kcat)?.[1] ?? "not installed",
  };
}
