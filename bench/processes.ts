/**
 * Subprocesses of the benchmark: our scripts started exactly as their
 * deno.json tasks run them (same permissions), and the reference tools
 * (java, kcat). Output is read line by line, each line stamped with the
 * time it arrived, so a benchmark can time what a process reports.
 *
 * @module
 */

import {
  type Child,
  type OutputLine,
  spawnCommand,
  type SpawnOptions,
  spawnTask as spawnDenoTask,
  tail,
  type TaskOptions,
  waitWithin,
} from "../shared/launch/mod.ts";
import { BROKERS } from "./services.ts";

/** The repository root (where deno.json is). */
export const ROOT = new URL("../", import.meta.url);

/** Lines kept of a run unless a benchmark asks for more: the latest, for parsers and errors. */
const KEEP_LINES = 2_000;

/**
 * Starts `command` with `args` in the repository root, with `NO_COLOR` set
 * and the latest 2 000 lines kept unless `options` say otherwise.
 */
export function spawn(command: string, args: string[], options: SpawnOptions = {}): Child {
  return spawnCommand(command, args, {
    keepLines: KEEP_LINES,
    ...options,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
  });
}

/** The emulator of `deno task up`, which the tasks' network grants name. */
const TASK_EMULATOR = "127.0.0.1:9050";

/**
 * A task's arguments with the emulator address in `--allow-net` replaced by
 * `emulator` (`host:port`), for runs against another emulator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withEmulator } from "./processes.ts";
 * assert.deepEqual(
 *   withEmulator(["run", "--allow-net=127.0.0.1:9092,127.0.0.1:9050", "x.ts"], "127.0.0.1:9150"),
 *   ["run", "--allow-net=127.0.0.1:9092,127.0.0.1:9150", "x.ts"],
 * );
 * ```
 */
export function withEmulator(args: readonly string[], emulator: string): string[] {
  return args.map((arg) =>
    arg.startsWith("--allow-net=")
      ? `--allow-net=${
        arg.slice("--allow-net=".length).split(",").map((host) =>
          host === TASK_EMULATOR ? emulator : host
        ).join(",")
      }`
      : arg
  );
}

/**
 * Starts the script of a deno.json task with its permissions and extra
 * flags, like {@linkcode spawn}. When `BIGQUERY_EMULATOR_HOST` names another
 * emulator (which the script inherits), its network grant names that one
 * instead.
 */
export function spawnTask(
  task: string,
  args: string[],
  options: TaskOptions = {},
): Promise<Child> {
  const emulator = Deno.env.get("BIGQUERY_EMULATOR_HOST");
  const permissions = (runArgs: string[]) => {
    const granted = emulator === undefined
      ? runArgs
      : withEmulator(runArgs, new URL(emulator).host);
    return options.permissions?.(granted) ?? granted;
  };
  return spawnDenoTask(task, args, {
    keepLines: KEEP_LINES,
    ...options,
    root: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    permissions,
  });
}

/** Topic, consumer group and table of a consumer run. */
export interface ConsumerNames {
  topic: string;
  group: string;
  table: string;
}

/** Starts consumer.ts (its task's permissions) on `names`, with more flags in `args`. */
export function spawnConsumer(
  names: ConsumerNames,
  args: string[] = [],
  options: TaskOptions = {},
): Promise<Child> {
  const flags = ["--topic", names.topic, "--group", names.group, "--table", names.table];
  return spawnTask("consume", [...flags, ...args], options);
}

/**
 * Waits for a process to end; kills it and throws after `timeoutMs`. Throws
 * when it exits with a non-zero code, quoting its last lines.
 */
export async function finish(
  child: Child,
  what: string,
  timeoutMs: number,
): Promise<OutputLine[]> {
  const { code, lines } = await waitWithin(child, timeoutMs, what);
  if (code !== 0) throw new Error(`${what} exited with code ${code}:\n${tail(lines)}`);
  return lines;
}

/** Whether `command` can be run (it is installed and allowed). */
export async function available(command: string, args: string[]): Promise<boolean> {
  try {
    const result = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return result.success;
  } catch {
    return false;
  }
}

/** Runs `command` to completion and returns its stdout and stderr as text. */
export async function capture(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, { args, cwd: ROOT, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return decoder.decode(result.stdout) + decoder.decode(result.stderr);
}

/** Fills `topic` with `events` simulated plays, as fast as the broker takes them. */
export async function fillTopic(
  topic: string,
  events: number,
  extra: readonly string[] = [],
): Promise<void> {
  await finish(
    await spawnTask("produce", [
      "--topic",
      topic,
      "--count",
      String(events),
      "--rate",
      "0",
      "--log-file",
      "",
      ...extra,
    ]),
    "producer.ts (filling the topic)",
    900_000,
  );
}

/** `kcat -C` reading `topic` from its start to its end, to /dev/null: messages per second. */
export async function kcat(topic: string, events: number): Promise<number> {
  const args = ["-C", "-b", BROKERS[0]!, "-t", topic, "-o", "beginning", "-e", "-q"];
  const started = performance.now();
  const result = await new Deno.Command("kcat", { args, stdin: "null", stdout: "null" }).output();
  const seconds = (performance.now() - started) / 1000;
  if (!result.success) {
    throw new Error(
      `kcat -C exited with code ${result.code}: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
  return events / seconds;
}
