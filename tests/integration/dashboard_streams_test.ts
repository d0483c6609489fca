// The dashboard's live streams under greedy clients, on a real dashboard
// process (real broker and BigQuery emulator behind it): capped per client
// address (the total cap: tests/unit/dashboard_server_test.ts), with 503
// and Retry-After beyond.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import { dashboardNames, health, numberAt } from "../support/dashboard.ts";
import { waitFor } from "../support/harness.ts";

test("dashboard: streams beyond the per-client cap get 503 with Retry-After", async () => {
  const names = dashboardNames();
  const dashboard = await startDashboard(names, {
    args: ["--max-streams", "3", "--max-streams-per-client", "2", "--reconcile-every", "0"],
  });
  const open: Response[] = [];
  const stream = (url: string) => fetch(new URL("/api/stream?artist=tony-allen", url));
  try {
    open.push(await stream(dashboard.url), await stream(dashboard.url));
    assert.deepEqual(open.map((response) => response.status), [200, 200]);
    const refused = await stream(dashboard.url);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "10");
    assert.match((await refused.json()).error, /from 127\.0\.0\.1: at most 2 per client/);
    assert.equal(numberAt((await health(dashboard.url)).body, ["streams_refused"]), 1);

    // A viewer that leaves frees its place.
    await open.shift()!.body!.cancel();
    await waitFor("the stream closed", async () => {
      return numberAt((await health(dashboard.url)).body, ["streams"]) === 1;
    });
    const again = await stream(dashboard.url);
    assert.equal(again.status, 200);
    open.push(again);
  } finally {
    for (const response of open) await response.body?.cancel().catch(() => {});
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
  }
});

test("dashboard behind its front door: a head not complete in time is closed, streams capped per client", async () => {
  const names = dashboardNames();
  const dir = await Deno.makeTempDir({ prefix: "livecharts-socket-" });
  const dashboard = await startDashboard(names, {
    args: [
      "--http-socket",
      `${dir}/http.sock`,
      "--header-timeout",
      "1s",
      "--max-streams-per-client",
      "1",
      "--reconcile-every",
      "0",
    ],
  });
  const open: Response[] = [];
  try {
    const { port } = new URL(dashboard.url);
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    const started = Date.now();
    await slow.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: 127"));
    const read = await Promise.race([
      slow.read(new Uint8Array(1024)),
      new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 10_000)),
    ]);
    const ms = Date.now() - started;
    slow.close();
    assert.equal(read, null, "the server closed the connection");
    assert.ok(ms >= 900 && ms < 8_000, `closed after ${ms} ms`);
    const body = (await health(dashboard.url)).body;
    assert.equal(numberAt(body, ["connections_closed", "header"]), 1);
    assert.equal(numberAt(body, ["connections_closed", "refused"]), 0);

    // The client's address comes through the door: a second stream from it is refused.
    const stream = () => fetch(new URL("/api/stream?artist=tony-allen", dashboard.url));
    open.push(await stream());
    assert.equal(open[0]!.status, 200);
    const refused = await stream();
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).error, /from 127\.0\.0\.1: at most 1 per client/);
  } finally {
    for (const response of open) await response.body?.cancel().catch(() => {});
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, tail(stopped.lines));
    await Deno.remove(dir, { recursive: true });
  }
});
