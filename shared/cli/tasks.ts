/**
 * Reads the `deno run` command line of a deno.json task, so other scripts can
 * start a script with exactly the permissions its task grants.
 *
 * @module
 */

/**
 * The arguments after `deno` of a task that is a plain `deno run ...`.
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
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(
      `Cannot run task ${JSON.stringify(task)}: it is not a plain 'deno run', got ${
        JSON.stringify(command)
      }`,
    );
  }
  return words.slice(1);
}

/** {@linkcode runArgs} for the deno.json at `root`. */
export async function taskRunArgs(root: URL, task: string): Promise<string[]> {
  const config: unknown = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  return runArgs(config, task);
}
