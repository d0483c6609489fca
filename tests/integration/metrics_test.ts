import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { createRegistry, PROCFS_METRICS } from "../../shared/ops/metrics.ts";
import { parseExposition, sampleValue } from "../support/prometheus.ts";

const ROOT = new URL("../../", import.meta.url);

test("createRegistry() adds prom-client's default process and runtime metrics", async () => {
  const parsed = parseExposition(await createRegistry().metrics());
  assert.equal(parsed.types.get("process_cpu_seconds_total"), "counter");
  assert.equal(parsed.types.get("process_start_time_seconds"), "gauge");
  assert.equal(parsed.types.get("nodejs_eventloop_lag_seconds"), "gauge");
  assert.equal(parsed.types.get("nodejs_gc_duration_seconds"), "histogram");
  assert.ok((sampleValue(parsed, "nodejs_heap_size_used_bytes") ?? 0) > 0);
  const started = sampleValue(parsed, "process_start_time_seconds") ?? 0;
  assert.ok(Math.abs(started - Date.now() / 1000) < 3600, `started recently (${started})`);
  assert.match(
    parsed.samples.find((sample) => sample.name === "nodejs_version_info")?.labels.version ?? "",
    /^v\d+\.\d+\.\d+/,
  );
  // The tests run with --allow-all: prom-client reads /proc/self itself.
  if (Deno.build.os === "linux") {
    for (const name of PROCFS_METRICS) assert.ok(parsed.types.has(name), `${name} registered`);
    assert.ok((sampleValue(parsed, "process_open_fds") ?? 0) > 0);
  }
  assert.ok((sampleValue(parsed, "process_resident_memory_bytes") ?? 0) > 0);
});

test("createRegistry() with the tasks' grants (no /proc) takes resident memory from Deno", async () => {
  // The tasks' grants: no read access, and --no-prompt.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(
    'import { createRegistry } from "./shared/ops/metrics.ts";\n' +
      "console.log(await createRegistry().metrics());\n",
  ));
  await writer.close();
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const parsed = parseExposition(new TextDecoder().decode(output.stdout).replace(/\n+$/, "\n"));
  assert.ok((sampleValue(parsed, "process_resident_memory_bytes") ?? 0) > 0);
  assert.equal(parsed.types.get("process_cpu_seconds_total"), "counter");
  if (Deno.build.os === "linux") {
    for (const name of PROCFS_METRICS.filter((name) => name !== "process_resident_memory_bytes")) {
      assert.equal(parsed.types.has(name), false, `${name} dropped rather than reading 0`);
    }
  }
});
