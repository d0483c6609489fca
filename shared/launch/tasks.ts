/**
 * Reads the `deno run` command line of a deno.json task and starts its script
 * with exactly the permissions the task grants, reading the child's output
 * line by line ({@linkcode spawnTask}). A task that runs the launcher
 * (`shared/launch/launch.ts`) gets the grants the launcher computes from the
 * script's configuration, as `deno task` would. `deno task start`, the
 * benchmark and the integration tests start every script this way.
 *
 * @module
 */

/** The launcher's path in a task's command line. */
export const LAUNCHER = "shared/launch/launch.ts";

/** A task's command line: the variables it sets and the arguments after `deno`. */
export interface TaskLine {
  /** `NAME=value` words before `deno` (as `deno task` sets them for the command). */
  env: Record<string, string>;
  /** The arguments after `deno`: `run`, flags, script. */
  args: string[];
}

/**
 * The command line of a task that is a plain `deno run ...`, optionally
 * after variables it sets (`NAME=value deno run ...`, which `deno task`
 * passes to the command).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskLine } from "./tasks.ts";
 * const config = { tasks: { serve: "MALLOC_MMAP_THRESHOLD_=131072 deno run serve.ts" } };
 * assert.deepEqual(taskLine(config, "serve"), {
 *   env: { MALLOC_MMAP_THRESHOLD_: "131072" },
 *   args: ["run", "serve.ts"],
 * });
 * assert.throws(() => taskLine(config, "nope"), /Cannot find task "nope" in deno.json/);
 * ```
 */
export function taskLine(config: unknown, task: string): TaskLine {
  const tasks = typeof config === "object" && config !== null && "tasks" in config
    ? config.tasks
    : undefined;
  const entry: unknown = typeof tasks === "object" && tasks !== null
    ? Reflect.get(tasks, task)
    : undefined;
  const command = typeof entry === "string"
    ? entry
    : typeof entry === "object" && entry !== null && "command" in entry &&
        typeof entry.command === "string"
    ? entry.command
    : undefined;
  if (command === undefined) {
    throw new Error(`Cannot find task ${JSON.stringify(task)} in deno.json`);
  }
  const words = command.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let at = 0;
  for (; at < words.length; at++) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(words[at]!);
    if (assignment === null) break;
    env[assignment[1]!] = assignment[2]!;
  }
  if (words[at] !== "deno" || words[at + 1] !== "run") {
    throw new Error(
      `Cannot run task ${JSON.stringify(task)}: it is not a plain 'deno run', got ${
        JSON.stringify(command)
      }`,
    );
  }
  return { env, args: words.slice(at + 1) };
}

/**
 * The arguments after `deno` of a task that is a plain `deno run ...`
 * (see {@linkcode taskLine}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runArgs } from "./tasks.ts";
 * assert.deepEqual(
 *   runArgs({ tasks: { produce: "deno run --allow-net=127.0.0.1:9092 producer.ts" } }, "produce"),
 *   ["run", "--allow-net=127.0.0.1:9092", "producer.ts"],
 * );
 * ```
 */
export function runArgs(config: unknown, task: string): string[] {
  return taskLine(config, task).args;
}

/** {@linkcode taskLine} for the deno.json at `root`. */
export async function readTaskLine(root: URL, task: string): Promise<TaskLine> {
  const config: unknown = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  return taskLine(config, task);
}

/** {@linkcode runArgs} for the deno.json at `root`. */
export async function taskRunArgs(root: URL, task: string): Promise<string[]> {
  return (await readTaskLine(root, task)).args;
}

/** A line a child process wrote, and when it arrived (`performance.now()`). */
export interface OutputLine {
  at: number;
  stream: "stdout" | "stderr";
  text: string;
}

/** Options of {@linkcode spawnCommand}. */
export interface SpawnOptions {
  /** Working directory (default: the current one). */
  cwd?: string | URL;
  /** Extra environment variables; the rest of the environment is inherited. */
  env?: Record<string, string>;
  /** Called with every line as it arrives. */
  onLine?: (line: OutputLine) => void;
  /** Keep at most this many lines, the latest (default: all). */
  keepLines?: number;
  /** Bytes written to stdin, which is then closed (default: no stdin). */
  stdin?: Uint8Array;
}

/** How a child process ended. */
export interface ChildExit {
  code: number;
  /** The lines kept, both streams in arrival order. */
  lines: OutputLine[];
}

/** A running child process whose output is read line by line. */
export interface Child {
  readonly pid: number;
  /** The lines kept so far, both streams in arrival order. */
  readonly lines: OutputLine[];
  /** Resolves once the process ended and all its output was read. */
  readonly done: Promise<ChildExit>;
  /** The kept lines of one stream as text, each ending with a newline. */
  output(stream: OutputLine["stream"]): string;
  /** Sends a signal; ignored when the process already ended. */
  kill(signal?: Deno.Signal): void;
  /** Sends SIGTERM, then SIGKILL after `graceMs` (default 10 s); resolves once it ended. */
  stop(graceMs?: number): Promise<ChildExit>;
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  name: OutputLine["stream"],
  push: (line: OutputLine) => void,
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

/**
 * Starts `command` with `args`, reading its stdout and stderr line by line.
 *
 * @example Run by `tests/integration/launch_test.ts` (it starts a process)
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { spawnCommand } from "./tasks.ts";
 * const child = spawnCommand("deno", ["eval", "console.log('one'); console.error('two')"]);
 * const { code, lines } = await child.done;
 * assert.equal(code, 0);
 * assert.deepEqual(lines.map((line) => line.text).sort(), ["one", "two"]);
 * assert.equal(child.output("stdout"), "one\n");
 * ```
 */
export function spawnCommand(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Child {
  const process = new Deno.Command(command, {
    args: [...args],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const keep = options.keepLines ?? Infinity;
  const lines: OutputLine[] = [];
  const push = (line: OutputLine) => {
    if (keep > 0) {
      lines.push(line);
      if (lines.length > keep) lines.splice(0, lines.length - keep);
    }
    options.onLine?.(line);
  };
  if (options.stdin !== undefined) {
    const writer = process.stdin.getWriter();
    writer.write(options.stdin).then(() => writer.close()).catch(() => {});
  }
  const reading = Promise.all([
    readLines(process.stdout, "stdout", push),
    readLines(process.stderr, "stderr", push),
  ]);
  const done = (async () => {
    const status = await process.status;
    await reading;
    return { code: status.code, lines };
  })();
  const kill = (signal: Deno.Signal = "SIGTERM") => {
    try {
      process.kill(signal);
    } catch {
      // already ended
    }
  };
  return {
    pid: process.pid,
    lines,
    done,
    output: (stream) =>
      lines.filter((line) => line.stream === stream).map((line) => `${line.text}\n`).join(""),
    kill,
    async stop(graceMs = 10_000) {
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), graceMs);
      try {
        return await done;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Options of {@linkcode spawnTask}. */
export interface TaskOptions extends Omit<SpawnOptions, "cwd"> {
  /** Folder of deno.json, where the task runs (default: this repository's root). */
  root?: URL;
  /**
   * Rewrites the task's `deno run` arguments before the extra ones are
   * appended, e.g. to widen a grant for one run.
   */
  permissions?: (args: string[]) => string[];
}

/**
 * Starts the script of a deno.json task exactly as the task runs it (its own
 * narrow permissions), with `args` appended, in the folder of deno.json.
 *
 * @example Run by `tests/integration/launch_test.ts` (it starts a process)
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { spawnTask } from "./tasks.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/deno.json`, '{ "tasks": { "hello": "deno run hello.ts" } }');
 * await Deno.writeTextFile(`${root}/hello.ts`, "console.log(`hello ${Deno.args[0]}`);");
 * const child = await spawnTask("hello", ["world"], { root: new URL(`file://${root}/`) });
 * assert.equal((await child.done).code, 0);
 * assert.equal(child.output("stdout"), "hello world\n");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function spawnTask(
  name: string,
  args: readonly string[],
  options: TaskOptions = {},
): Promise<Child> {
  const root = options.root ?? new URL("../../", import.meta.url);
  const { runArgs, args: scriptArgs, env } = await taskCommand(root, name, args, options.env);
  return spawnCommand("deno", [...(options.permissions?.(runArgs) ?? runArgs), ...scriptArgs], {
    ...options,
    // The task's own variables, as `deno task` sets them; the caller's on top.
    env: { ...env, ...options.env },
    cwd: root,
  });
}

/**
 * The `deno run` arguments (`run`, flags, script), the script's arguments
 * and the variables the task sets (`NAME=value` before `deno`) of task
 * `name` run with `args` and the extra variables `env`. For a task
 * that runs the launcher, the launcher itself plans the run (`--plan`: the
 * same configuration, the same grants) and this process needs no more than
 * `--allow-run=deno`. A service that does not answer or a bad option is left
 * for the script to report.
 */
export async function taskCommand(
  root: URL,
  name: string,
  args: readonly string[],
  env?: Record<string, string>,
): Promise<{ runArgs: string[]; args: string[]; env: Record<string, string> }> {
  const { args: runArgs, env: taskEnv } = await readTaskLine(root, name);
  const at = runArgs.indexOf(LAUNCHER);
  if (at === -1) return { runArgs, args: [...args], env: taskEnv };
  const planning = await new Deno.Command("deno", {
    args: [...runArgs.slice(0, at + 1), "--plan", ...runArgs.slice(at + 1), ...args],
    cwd: root,
    env: { ...taskEnv, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!planning.success) {
    throw new Error(
      `Cannot plan the run of task ${JSON.stringify(name)}: ${
        decoder.decode(planning.stderr).trim()
      }`,
    );
  }
  return { ...parsePlan(decoder.decode(planning.stdout)), env: taskEnv };
}

/**
 * The run a launcher's `--plan` printed (JSON of `runArgs` and `args`, on a
 * line of its own: a verbose launcher may print log lines around it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePlan } from "./tasks.ts";
 * assert.deepEqual(parsePlan('{"runArgs":["run","x.ts"],"args":["--n","1"]}'), {
 *   runArgs: ["run", "x.ts"],
 *   args: ["--n", "1"],
 * });
 * assert.deepEqual(parsePlan('{"runArgs":["run"],"args":[]}\nTRACE kafka: metadata\n').runArgs, [
 *   "run",
 * ]);
 * assert.throws(() => parsePlan('{"runArgs":"run"}'), /Cannot read the launcher's plan/);
 * ```
 */
export function parsePlan(text: string): { runArgs: string[]; args: string[] } {
  const line = text.split("\n").find((candidate) => candidate.startsWith('{"runArgs"')) ?? text;
  const plan: unknown = JSON.parse(line);
  const strings = (value: unknown): string[] | undefined =>
    Array.isArray(value) && value.every((item) => typeof item === "string") ? value : undefined;
  const runArgs = typeof plan === "object" && plan !== null && "runArgs" in plan
    ? strings(plan.runArgs)
    : undefined;
  const args = typeof plan === "object" && plan !== null && "args" in plan
    ? strings(plan.args)
    : undefined;
  if (runArgs === undefined || args === undefined) {
    throw new Error(`Cannot read the launcher's plan: expected runArgs and args, got ${text}`);
  }
  return { runArgs, args };
}

/** The last `count` lines as text, for error messages. */
export function tail(lines: readonly OutputLine[], count = 15): string {
  return lines.slice(-count).map((line) => line.text).join("\n");
}

/**
 * Waits for `child` to end. After `timeoutMs` it kills the child (SIGKILL)
 * and throws, quoting its last lines; `what` names it in that message.
 */
export async function waitWithin(
  child: Child,
  timeoutMs: number,
  what: string,
): Promise<ChildExit> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} did not finish within ${timeoutMs} ms:\n${tail(child.lines)}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([child.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
