/**
 * The dashboard when it is exposed: `--public` serves the page and the read
 * APIs only, with generic errors; health details and metrics answer on the
 * admin listener; `/api/reconcile` (a BigQuery scan) answers only the
 * dashboard's own host names and never another site's page.
 */
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { freePort, startDashboard } from "../../bench/dashboard.ts";
import { dashboardNames } from "../support/dashboard.ts";

test("--public serves the page and read APIs only; details and metrics on the admin listener", async () => {
  const adminPort = freePort();
  const dashboard = await startDashboard(dashboardNames(), {
    args: ["--public", "--admin-port", String(adminPort)],
    until: "serving",
  });
  try {
    const get = (path: string, base = dashboard.url) => fetch(new URL(path, base));
    const read = ["/", "/overview", "/api/top", "/api/artists", "/api/overview"];
    for (const path of [...read, "/api/overview/stream"]) {
      const response = await get(path);
      await response.body?.cancel();
      assert.equal(response.status, 200, path);
    }
    const stream = await get("/api/stream");
    assert.equal(stream.status, 200);
    await stream.body?.cancel();

    const health = await get("/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" }, "no topic, anchors, memory or errors");
    for (const path of ["/metrics", "/api/reconcile", "/api/whatever", "/no/such/page"]) {
      const response = await get(path);
      assert.equal(response.status, 404, path);
      assert.deepEqual(await response.json(), { error: "Not found" }, `${path}: a generic body`);
    }

    const admin = `http://127.0.0.1:${adminPort}/`;
    const details = await (await get("/healthz", admin)).json();
    assert.equal(typeof details.topic, "string");
    assert.ok("memory_mb" in details, JSON.stringify(details));
    const metrics = await get("/metrics", admin);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^# HELP /m);
    assert.ok(
      dashboard.child.lines.some((line) => line.text.includes("there is no authentication")),
      "the start says so",
    );
  } finally {
    await dashboard.stop();
  }
});

/**
 * GETs `path` over a plain TCP connection, so that the `Host` header is the
 * one given (fetch sets its own): what a browser sends after DNS rebinding.
 */
async function rawGet(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: string } }> {
  const { hostname, port } = new URL(url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  try {
    const lines = [`GET ${path} HTTP/1.1`, "connection: close"];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    await connection.write(new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
    const text = await new Response(connection.readable).text();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    const head = text.indexOf("\r\n\r\n");
    const rest = text.slice(head + 4);
    // The body may come in chunks: the JSON is between the first { and the last }.
    const body = JSON.parse(rest.slice(rest.indexOf("{"), rest.lastIndexOf("}") + 1));
    return { status, body };
  } finally {
    try {
      connection.close();
    } catch {
      // closed by the server's end of the response
    }
  }
}

test("/api/reconcile answers only the dashboard's own host names, never another site", async () => {
  const dashboard = await startDashboard(dashboardNames(), {
    args: ["--allowed-hosts", "charts.example.com"],
    until: "serving",
  });
  try {
    const ask = (headers: Record<string, string>) =>
      rawGet(dashboard.url, "/api/reconcile", { host: new URL(dashboard.url).host, ...headers });
    const rebound = await ask({ host: "evil.example:8080" });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body.error ?? "", /answers only to the dashboard's own host names/);
    const image = await ask({ "sec-fetch-site": "cross-site" });
    assert.equal(image.status, 403);
    assert.match(image.body.error ?? "", /not served to requests from other sites/);
    for (const headers of [{}, { host: "charts.example.com" }, { host: "localhost:1" }]) {
      const own = await ask(headers);
      assert.notEqual(own.status, 403, `${JSON.stringify(headers)}: ${JSON.stringify(own.body)}`);
    }
  } finally {
    await dashboard.stop();
  }
});
