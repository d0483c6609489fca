/**
 * What the shipped code is made of: every module under `shared/` is loaded
 * by a script a task runs (code that exists for a test lives in `tests/`).
 */
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { moduleGraph } from "../support/command.ts";

const ROOT = new URL("../../", import.meta.url);

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
  const loaded = new Set((await Promise.all(scripts.map(moduleGraph))).flat());
  const unused = filesUnder("shared").filter((file) => !loaded.has(new URL(file, ROOT).href));
  assert.deepEqual(unused, [], "used by tests only: move them to tests/support/");
});
