/**
 * Subprocesses of the benchmark: our scripts started exactly as their
 * deno.json tasks run them (same permissions), and the reference tools
 * (java, kcat). Output is read line by line, each line stamped with the
 * time it arrived, so a benchmark can time what a process reports.
 *
 * @module
 */

import { taskRunArgs } from "../shared/cli/tasks.ts";

/** The repository root (where deno.json is). */
export const ROOT = new URL("../", import.meta.url);

/** A line of output and when the benchmark received it (`performance.now()`). */
export interface Line {
  at: number;
  stream: "stdout" | "stderr";
  text: string;
}

/** Options of {@linkcode spawn}. */
export interface SpawnOptions {
  /** Extra environment variables (the benchmark's own environment is inherited). */
  env?: Record<string, string>;
  /** Called for every line as it arrives. */
  onLine?: (line: Line) => void;
  /** Keep at most this many lines (default 2 000, the latest). */
  keepLines?: number;
  /** Bytes to write to stdin, then close it (default: no stdin). */
  stdin?: Uint8Array;
}

/** A running subprocess. */
export interface Running {
  pid: number;
  /** The latest lines of both streams, in arrival order. */
  lines: Line[];
  /** Resolves once the process ended and its output was read. */
  done: Promise<{ code: number; lines: Line[] }>;
  /** Sends a signal; ignored when the process already ended. */
  kill(signal?: Deno.Signal): void;
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  name: Line["stream"],
  push: (line: Line) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const at = performance.now();
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const text of parts) push({ at, stream: name, text });
  }
  if (rest !== "") push({ at: performance.now(), stream: name, text: rest });
}

/** Starts `command` with `args` in the repository root. */
export function spawn(command: string, args: string[], options: SpawnOptions = {}): Running {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const keep = options.keepLines ?? 2_000;
  const lines: Line[] = [];
  const push = (line: Line) => {
    lines.push(line);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
    options.onLine?.(line);
  };
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    writer.write(options.stdin).then(() => writer.close()).catch(() => {});
  }
  const reading = Promise.all([
    readLines(child.stdout, "stdout", push),
    readLines(child.stderr, "stderr", push),
  ]);
  const done = (async () => {
    const status = await child.status;
    await reading;
    return { code: status.code, lines };
  })();
  return {
    pid: child.pid,
    lines,
    done,
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already ended
      }
    },
  };
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
 * flags. When `BIGQUERY_EMULATOR_HOST` names another emulator (which the
 * script inherits), its network grant names that one instead.
 */
export async function spawnTask(
  task: string,
  args: string[],
  options: SpawnOptions & { permissions?: (args: string[]) => string[] } = {},
): Promise<Running> {
  let runArgs = await taskRunArgs(ROOT, task);
  const emulator = Deno.env.get("BIGQUERY_EMULATOR_HOST");
  if (emulator !== undefined) runArgs = withEmulator(runArgs, new URL(emulator).host);
  return spawn("deno", [...(options.permissions?.(runArgs) ?? runArgs), ...args], options);
}

/** The last lines of a run, for error messages. */
export function tail(lines: readonly Line[], count = 15): string {
  return lines.slice(-count).map((line) => line.text).join("\n");
}

/**
 * Waits for a process to end; kills it and throws after `timeoutMs`. Throws
 * when it exits with a non-zero code, quoting its last lines.
 */
export async function finish(
  running: Running,
  what: string,
  timeoutMs: number,
): Promise<Line[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      running.kill("SIGKILL");
      reject(new Error(`${what} did not finish within ${timeoutMs} ms:\n${tail(running.lines)}`));
    }, timeoutMs);
  });
  try {
    const { code, lines } = await Promise.race([running.done, timeout]);
    if (code !== 0) throw new Error(`${what} exited with code ${code}:\n${tail(lines)}`);
    return lines;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a process with SIGTERM, then SIGKILL after `graceMs`; resolves once it ended. */
export async function stop(running: Running, graceMs = 10_000): Promise<number> {
  running.kill("SIGTERM");
  const timer = setTimeout(() => running.kill("SIGKILL"), graceMs);
  try {
    return (await running.done).code;
  } finally {
    clearTimeout(timer);
  }
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
export async function fillTopic(topic: string, events: number): Promise<void> {
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
    ]),
    "producer.ts (filling the topic)",
    900_000,
  );
}
