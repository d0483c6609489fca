/**
 * `deno task docs`: writes `docs/configuration.md`, the configuration
 * reference, from the option tables of the scripts the tasks run.
 *
 * @module
 */

import { renderReference } from "./reference.ts";
import { readScriptReferences } from "./script_references.ts";

/** Where the project's `deno.json` is. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** The reference's file. */
export const REFERENCE_FILE: URL = new URL("docs/configuration.md", ROOT);

/** The reference as the option tables say it now. */
export async function currentReference(root: URL = ROOT): Promise<string> {
  return renderReference(await readScriptReferences(root));
}

if (import.meta.main) {
  await Deno.writeTextFile(REFERENCE_FILE, await currentReference());
  console.log(`Wrote ${REFERENCE_FILE.pathname.slice(ROOT.pathname.length)}`);
}
