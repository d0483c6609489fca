// The configuration reference (docs/configuration.md) is generated from the
// scripts' option tables by `deno task docs`; these tests fail when it drifts.
import assert from "node:assert/strict";
import { currentReference, REFERENCE_FILE } from "../../shared/cli/write_reference.ts";
import { readScriptReferences } from "../../shared/cli/script_references.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("docs/configuration.md is what the option tables say now (run `deno task docs`)", async () => {
  const written = await Deno.readTextFile(REFERENCE_FILE);
  assert.equal(
    written,
    await currentReference(ROOT),
    "docs/configuration.md differs from the option tables: run `deno task docs` and commit it",
  );
});

Deno.test("the configuration reference lists every script a task runs and every variable", async () => {
  const scripts = await readScriptReferences(ROOT);
  assert.deepEqual(
    scripts.map((script) => `${script.task}: ${script.script}`),
    [
      "start: start.ts",
      "produce: producer.ts",
      "consume: consumer.ts",
      "dlq: dlq.ts",
      "dashboard: dashboard.ts",
      "bench: bench.ts",
    ],
  );
  const reference = await currentReference(ROOT);
  for (const script of scripts) {
    for (const option of Object.values(script.options).filter((option) => !option.hidden)) {
      assert.ok(reference.includes(`\`--${option.flag}`), `--${option.flag} of ${script.script}`);
      if (option.env) assert.ok(reference.includes(`\`${option.env}\``), option.env);
    }
  }
  for (
    const name of [
      "DASHBOARD_DEDUP_HORIZON",
      "DASHBOARD_REANCHOR_EVERY",
      "DASHBOARD_RECONCILE_API",
      "DASHBOARD_RECONCILE_MIN_INTERVAL",
      "DASHBOARD_STREAM_STALL_TIMEOUT",
    ]
  ) {
    assert.ok(reference.includes(`| \`${name}\``), name);
  }
});
