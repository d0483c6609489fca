/**
 * What the shipped code is made of: every module under `shared/` is loaded
 * by a script a task runs (code that exists for a test lives in `tests/`).
 */
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";

const ROOT = new URL("../../", import.meta.url);

/** The modules (`file:` URLs) of `script`'s graph, as `deno info` reads it. */
async function graphOf(script: string): Promise<string[]> {
  const output = await new Deno.Command("deno", {
    args: ["info", "--json", script],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  const graph: unknown = JSON.parse(new TextDecoder().decode(output.stdout));
  const modules = typeof graph === "object" && graph !== null && "modules" in graph &&
      Array.isArray(graph.modules)
    ? graph.modules
    : [];
  return modules.map((module: unknown) =>
    typeof module === "object" && module !== null && "specifier" in module
      ? String(module.specifier)
      : ""
  );
}

/** Every `.ts` file under `dir`, relative to the root. */
function filesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...filesUnder(path));
    else if (path.endsWith(".ts")) files.push(path);
  }
  return files;
}

test("every module under shared/ is loaded by a script a task runs", async () => {
  const scripts = [
    "producer.ts",
    "consumer.ts",
    "dashboard.ts",
    "dlq.ts",
    "start.ts",
    "bench.ts",
    "shared/launch/launch.ts",
    "shared/launch/kafka_probe.ts",
    "shared/cli/write_reference.ts",
  ];
  const loaded = new Set((await Promise.all(scripts.map(graphOf))).flat());
  const unused = filesUnder("shared").filter((file) => !loaded.has(new URL(file, ROOT).href));
  assert.deepEqual(unused, [], "used by tests only: move them to tests/support/");
});
