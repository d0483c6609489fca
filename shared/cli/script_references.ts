/**
 * The scripts the tasks run, with their option tables: every task in
 * `deno.json` whose command runs a script at the top level (`producer.ts`,
 * not `shared/…`) is listed, in the order of `deno.json`, with its task's
 * description. The scripts the launcher runs have their tables in
 * `shared/tables/` (read from there); any other exports its table as
 * `options`.
 *
 * Importing a script loads what it imports (the Kafka and Google clients
 * among them) but runs nothing: scripts start only as the main module.
 *
 * Not exported from mod.ts: the scripts import that module.
 *
 * @module
 */

import { SCRIPT_TABLES } from "../tables/mod.ts";
import type { Option } from "./options.ts";
import type { ScriptReference } from "./reference.ts";

/** A task of `deno.json` as far as the reference needs it. */
interface Task {
  description?: string;
  command: string;
}

/** The top-level script a task command runs (its last argument naming one), if any. */
function scriptOf(command: string): string | undefined {
  return command.split(/\s+/).filter((word) => /^[\w.-]+\.ts$/.test(word)).at(-1);
}

/** Whether `value` is an option table: options with a flag, a help line and a parser. */
function isOptionTable(value: unknown): value is Record<string, Option<unknown>> {
  if (typeof value !== "object" || value === null) return false;
  return Object.values(value).every((option: unknown) =>
    typeof option === "object" && option !== null &&
    "flag" in option && typeof option.flag === "string" &&
    "help" in option && typeof option.help === "string" &&
    "parse" in option && typeof option.parse === "function"
  );
}

/**
 * Every script a task of `root/deno.json` runs, with its option table.
 * Throws when such a script does not export one as `options`.
 */
export async function readScriptReferences(root: URL): Promise<ScriptReference[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const tasks: Record<string, string | Task> = config.tasks ?? {};
  const scripts: ScriptReference[] = [];
  for (const [task, entry] of Object.entries(tasks)) {
    const { command, description = "" } = typeof entry === "string" ? { command: entry } : entry;
    const script = scriptOf(command);
    if (script === undefined) continue;
    // The launched scripts' tables come from shared/tables/, without their libraries.
    const module: unknown = SCRIPT_TABLES[script] === undefined
      ? await import(new URL(script, root).href)
      : { options: SCRIPT_TABLES[script] };
    const options = typeof module === "object" && module !== null && "options" in module
      ? module.options
      : undefined;
    if (!isOptionTable(options)) {
      throw new Error(
        `Cannot list ${script} (deno task ${task}): it does not export its option table as 'options'`,
      );
    }
    scripts.push({
      task,
      script,
      description: description.replace(/ \(see --help\)$/, ""),
      options,
    });
  }
  return scripts;
}
