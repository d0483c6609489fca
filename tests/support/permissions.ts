/**
 * Widens a task's `deno run` permissions for one test run, so a task can
 * keep the narrowest grants while a test reaches, say, a second broker.
 *
 * @module
 */

/**
 * `args` (as from `taskRunArgs`: `run`, flags, script, script args) with the
 * permission flags of `extra` merged in: values of a flag the task already
 * has with a list are appended to that list (`--allow-net=a` plus
 * `--allow-net=b` gives `--allow-net=a,b`), a flag the task grants in full
 * is left alone, and a new flag goes before the script.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergePermissions } from "./permissions.ts";
 * assert.deepEqual(
 *   mergePermissions(
 *     ["run", "--allow-net=127.0.0.1:9092", "producer.ts", "--count", "1"],
 *     ["--allow-net=127.0.0.1:9094", "--allow-read=ca.pem"],
 *   ),
 *   [
 *     "run",
 *     "--allow-net=127.0.0.1:9092,127.0.0.1:9094",
 *     "--allow-read=ca.pem",
 *     "producer.ts",
 *     "--count",
 *     "1",
 *   ],
 * );
 * ```
 */
export function mergePermissions(args: readonly string[], extra: readonly string[]): string[] {
  const result = [...args];
  const script = result.findIndex((arg, i) => i > 0 && !arg.startsWith("-"));
  if (result[0] !== "run" || script === -1) {
    throw new Error(`Cannot merge permissions: expected 'run ... <script>', got ${args.join(" ")}`);
  }
  let insertAt = script;
  for (const permission of extra) {
    const match = /^(--allow-[a-z-]+)(?:=(.+))?$/.exec(permission);
    if (match === null) {
      throw new Error(
        `Cannot merge ${
          JSON.stringify(permission)
        }: expected --allow-<name> or --allow-<name>=<list>`,
      );
    }
    const [, flag, list] = match;
    const at = result.findIndex((arg, i) =>
      i < insertAt && (arg === flag || arg.startsWith(`${flag}=`))
    );
    if (at === -1) {
      result.splice(insertAt, 0, permission);
      insertAt++;
    } else if (list === undefined) {
      result[at] = flag!; // the whole permission
    } else if (result[at] !== flag) {
      const values = result[at]!.slice(flag!.length + 1).split(",");
      for (const value of list.split(",")) if (!values.includes(value)) values.push(value);
      result[at] = `${flag}=${values.join(",")}`;
    }
  }
  return result;
}
