/**
 * What a benchmark ran on: the machine (cores, memory, load) and the
 * versions of everything measured, recorded next to the figures.
 *
 * @module
 */

import { cpus } from "node:os";
import { capture, ROOT } from "./processes.ts";

async function readText(path: string | URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** Calls `read`, or answers `undefined` when the permission is missing or the call fails. */
function orUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15 minute load averages, or `undefined` (needs `--allow-sys=loadavg`). */
export function loadAverage(): number[] | undefined {
  return orUndefined(() => Deno.loadavg().map((load) => Math.round(load * 100) / 100));
}

/**
 * Cores, CPU model, memory, kernel and load of this machine, from the
 * runtime (`--allow-sys=cpus,systemMemoryInfo,loadavg,osRelease`; reading
 * `/proc` would need every permission). What is not granted is `unknown`
 * or `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { machineInfo } from "./machine.ts";
 * const machine = machineInfo();
 * assert.equal(machine.cores, navigator.hardwareConcurrency);
 * assert.equal(typeof machine.cpu, "string");
 * ```
 */
export function machineInfo(): Record<string, unknown> {
  const model = orUndefined(() => cpus()[0]?.model.trim());
  const memory = orUndefined(() => Deno.systemMemoryInfo());
  const release = orUndefined(() => Deno.osRelease());
  return {
    cores: navigator.hardwareConcurrency,
    cpu: model || "unknown",
    memory_gb: memory === undefined ? null : Math.round(memory.total / 2 ** 30 * 10) / 10,
    memory_available_gb: memory === undefined
      ? null
      : Math.round(memory.available / 2 ** 30 * 10) / 10,
    os: `${Deno.build.os} ${release ?? ""}`.trim(),
    arch: Deno.build.arch,
    load_average_at_start: loadAverage() ?? null,
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
    ...lockedVersions(lock, [
      "kafkajs",
      "@google-cloud/bigquery",
      "@google-cloud/bigquery-storage",
    ]),
    kafka: pinned.kafka ?? "unknown",
    bigquery_emulator: `bqemulator ${pinned.bigquery ?? "unknown"}`,
    java: /version "([^"]+)"/.exec(java)?.[1] ?? "not installed",
    kcat: /Version (\S+)/.exec(kcat)?.[1] ?? "not installed",
    librdkafka: /librdkafka (\S+)/.exec(kcat)?.[1] ?? "not installed",
  };
}
