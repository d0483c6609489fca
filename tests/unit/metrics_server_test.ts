// The /metrics and /healthz handler, in process.

import assert from "node:assert/strict";
import { Counter, createRegistry } from "../../shared/ops/metrics.ts";
import { createMetricsHandler } from "../../shared/ops/metrics_server.ts";
import { parseExposition, sampleValue } from "../support/prometheus.ts";

Deno.test("createMetricsHandler() routes /metrics, /healthz, 404 and 405", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  new Counter({ name: "jobs_total", help: "Jobs", registers: [registry] }).inc(3);
  let healthy = true;
  const handler = createMetricsHandler({
    registry,
    health: () =>
      healthy
        ? { healthy, status: "ok", reason: "Caught up (lag 0)", details: { lag: 0 } }
        : { healthy, status: "stuck", reason: "No progress for 130 s", details: { lag: 4 } },
  });
  const get = (path: string, method = "GET") =>
    handler(new Request(`http://127.0.0.1${path}`, { method }));

  const metrics = await get("/metrics");
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(sampleValue(parseExposition(await metrics.text()), "jobs_total"), 3);

  const ok = await get("/healthz");
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { status: "ok", reason: "Caught up (lag 0)", lag: 0 });
  healthy = false;
  const stuck = await get("/healthz");
  assert.equal(stuck.status, 503);
  assert.deepEqual(await stuck.json(), {
    status: "stuck",
    reason: "No progress for 130 s",
    lag: 4,
  });

  const missing = await get("/");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const post = await get("/metrics", "POST");
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});
