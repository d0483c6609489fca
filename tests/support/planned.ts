/**
 * The launcher's plan of a script's `deno run` line, without probing
 * anything, and the grants in it: what the permission tests compare.
 *
 * @module
 */

import { planLaunch } from "../../shared/launch/launch.ts";

/** The repository root, where deno.json and the scripts are. */
export const ROOT = new URL("../../", import.meta.url);

/** The computed `deno run` arguments of `words` (`[deno flags] script [args]`), without probes. */
export async function planned(
  words: string[],
  env: Record<string, string> = {},
): Promise<string[]> {
  return (await planLaunch(words, { root: ROOT, env, probe: false })).runArgs;
}

/** The list of grant `flag` in `args` (empty when absent). */
export function granted(args: readonly string[], flag: string): string[] {
  const arg = args.find((item) => item.startsWith(`${flag}=`));
  return arg === undefined ? [] : arg.slice(flag.length + 1).split(",");
}
