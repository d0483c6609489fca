/**
 * The dashboard behind the reverse proxy of `infra/proxy/livecharts.conf`,
 * the real nginx in front of a real `--public` dashboard (real broker and
 * BigQuery emulator behind it): basic auth, the live stream passed on
 * unbuffered, the timeouts for idle and slow connections that Deno.serve
 * lacks, and nothing but the public routes forwarded.
 */
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { freePort, startDashboard } from "../../bench/dashboard.ts";
import { dashboardNames, playAt } from "../support/dashboard.ts";
import { produceRaw, waitFor } from "../support/harness.ts";
import { startProxy } from "../support/proxy.ts";

/** The site's timeouts, as infra/proxy/livecharts.conf sets them. */
const HEADER_TIMEOUT_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 15_000;

const credentials = { user: "viewer", password: "s3cret wall screen" };
const authorization = `Basic ${btoa(`${credentials.user}:${credentials.password}`)}`;

/**
 * Opens a TCP connection to `url`, sends `sent` (maybe nothing), reads what
 * comes back and resolves with it and how long the proxy took to close it.
 */
async function heldOpen(url: string, sent: string): Promise<{ ms: number; received: string }> {
  const { hostname, port } = new URL(url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  const started = Date.now();
  if (sent !== "") await connection.write(new TextEncoder().encode(sent));
  const received = await new Response(connection.readable).text();
  return { ms: Date.now() - started, received };
}

test(
  "proxy: basic auth, the stream unbuffered, idle and slow connections closed, public routes only",
  {
    timeoutMs: 150_000,
  },
  async () => {
    const names = dashboardNames();
    await produceRaw(names.topic, [JSON.stringify(playAt(Date.now() - 5_000, 1))]);
    const adminPort = freePort();
    const dashboard = await startDashboard(names, {
      args: [
        "--public",
        "--admin-port",
        String(adminPort),
        "--reconcile-every",
        "0",
        // Every stream comes from the proxy's address: the proxy caps per client.
        "--max-streams-per-client",
        "1000",
      ],
      until: "serving",
    });
    const admin = `http://127.0.0.1:${adminPort}/`;
    const proxy = await startProxy(new URL(dashboard.url).host, credentials);
    try {
      await waitFor("the dashboard live", async () => {
        const body = await (await fetch(new URL("/healthz", admin))).json();
        return body.state === "live";
      }, 60_000);

      // The timeouts run meanwhile: a connection that sends nothing, one that
      // stops halfway through its headers, one kept alive after a request.
      const idle = heldOpen(proxy.url, "");
      const slow = heldOpen(proxy.url, "GET / HTTP/1.1\r\nHost: charts\r\nX-Slow: ");
      const keptAlive = heldOpen(
        proxy.url,
        `GET /api/artists HTTP/1.1\r\nHost: charts\r\nAuthorization: ${authorization}\r\n\r\n`,
      );

      const get = (path: string, withAuth = true) =>
        fetch(new URL(path, proxy.url), withAuth ? { headers: { authorization } } : {});
      for (
        const path of ["/", "/overview", "/app.js", "/api/top", "/api/artists", "/api/overview"]
      ) {
        const refused = await get(path, false);
        await refused.body?.cancel();
        assert.equal(refused.status, 401, `${path} without credentials`);
        assert.match(refused.headers.get("www-authenticate") ?? "", /^Basic realm="livecharts"/);
        const wrong = await fetch(new URL(path, proxy.url), {
          headers: { authorization: `Basic ${btoa("viewer:guess")}` },
        });
        await wrong.body?.cancel();
        assert.equal(wrong.status, 401, `${path} with a wrong password`);
        const served = await get(path);
        assert.equal(served.status, 200, path);
        await served.body?.cancel();
      }
      const artists = await (await get("/api/artists")).json();
      assert.deepEqual(artists.artists, [{ artist: "tony-allen", plays: 1 }]);

      for (const path of ["/metrics", "/api/reconcile", "/healthz/../metrics", "/api/whatever"]) {
        const response = await get(path);
        const body = await response.text();
        assert.equal(response.status, 404, path);
        // nginx's own page: the proxy answered, whatever mode the dashboard is in.
        assert.match(body, /<html>/, `${path}: answered by the proxy, not forwarded`);
        assert.doesNotMatch(body, /# HELP|livecharts_|differences/, path);
      }
      const posted = await fetch(new URL("/api/top", proxy.url), {
        method: "POST",
        headers: { authorization },
        body: "x",
      });
      await posted.body?.cancel();
      assert.equal(posted.status, 403, "only GET is forwarded");
      // For a load balancer, without credentials: the public one-word health.
      const health = await get("/healthz", false);
      assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);

      // The live stream: a play produced now arrives through the proxy within a second or so.
      const stream = await get("/api/stream?artist=tony-allen&window=5m");
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      const nextDoc = async (): Promise<Record<string, unknown>> => {
        for (;;) {
          const match = /data: (\{.*\})\n\n/.exec(buffer);
          if (match !== null) buffer = buffer.slice(match.index + match[0].length);
          if (match !== null && match[1] !== "{}") return JSON.parse(match[1]!);
          if (match !== null) continue;
          const { value, done } = await reader.read();
          if (done) throw new Error("The stream ended");
          buffer += value;
        }
      };
      assert.equal((await nextDoc()).total, 1);
      const sentAt = Date.now();
      await produceRaw(names.topic, [JSON.stringify(playAt(Date.now(), 2))]);
      const second = await nextDoc();
      const latency = Date.now() - sentAt;
      assert.equal(second.total, 2);
      assert.ok(latency < 2_000, `pushed through the proxy ${latency} ms after producing`);
      await reader.cancel();

      // The overview's stream is passed on too: its first page names the artist.
      const overview = await get("/api/overview/stream?window=5m");
      assert.equal(overview.status, 200);
      assert.match(overview.headers.get("content-type") ?? "", /^text\/event-stream/);
      const pages = overview.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/data: \{.*\}\n\n/.test(text)) {
        const { value, done } = await pages.read();
        if (done) throw new Error("The overview stream ended");
        text += value;
      }
      const page = JSON.parse(/data: (\{.*\})\n\n/.exec(text)![1]!);
      assert.deepEqual(page.artists.map((entry: { artist: string }) => entry.artist), [
        "tony-allen",
      ]);
      await pages.cancel();

      // Streams per client address: 20 through the proxy, the 21st refused by it.
      const streams: Response[] = [];
      try {
        for (let i = 0; i < 20; i++) streams.push(await get("/api/stream?artist=tony-allen"));
        assert.deepEqual(streams.map((response) => response.status), Array(20).fill(200));
        const refused = await get("/api/stream?artist=tony-allen");
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get("retry-after"), "10");
        assert.match(await refused.text(), /Too many live streams from this address/);
      } finally {
        for (const open of streams) await open.body?.cancel().catch(() => {});
      }

      const [idleEnd, slowEnd, keptEnd] = await Promise.all([idle, slow, keptAlive]);
      const near = (ms: number, limit: number, what: string) =>
        assert.ok(
          ms >= limit - 1_000 && ms <= limit + 5_000,
          `${what}: closed after ${ms} ms, the site says ${limit} ms`,
        );
      near(idleEnd.ms, HEADER_TIMEOUT_MS, "a connection that sends nothing");
      assert.equal(idleEnd.received, "");
      near(slowEnd.ms, HEADER_TIMEOUT_MS, "a connection stuck in its headers");
      near(keptEnd.ms, KEEPALIVE_TIMEOUT_MS, "an idle kept-alive connection");
      assert.match(keptEnd.received, /^HTTP\/1\.1 200 /, "it got its answer first");
    } finally {
      await proxy.stop();
      await dashboard.stop();
    }
  },
);
