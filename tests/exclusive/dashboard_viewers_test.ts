// Slow viewers cannot grow the dashboard's memory: 300 Server-Sent Events
// clients that never read while 100,000 plays flow at 5,000 a second (five
// times the rate the dashboard is specified for). The process grows by no
// more than a few pending frames, /healthz keeps answering within a second
// and every play is counted. It times its own load, so it runs alone.
//
// The kernel's socket buffers take the first megabytes of each connection
// (send buffers grow to 4 MB on loopback here) before the dashboard sees any
// backpressure; what bounds memory after that, one pending frame per viewer
// and a cut-off after the stall timeout, is checked directly in
// dashboard_server_test.ts. Waits are on conditions.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { peakMb, rssAtProgress, sampleMemory } from "../../bench/proc_memory.ts";
import { dashboardNames, getJson, playAt } from "../support/dashboard.ts";
import { produceRaw, waitFor } from "../support/harness.ts";

const VIEWERS = 300;
const PLAYS = 100_000;
/** Plays a second. */
const RATE = 5_000;
/**
 * Most the dashboard may grow while the plays flow to stalled viewers: one
 * pending frame each is a few MB; a queue per viewer would be hundreds.
 */
const GROWTH_LIMIT_MB = 60;
const ARTIST = "stall-test";
/** Songs of the artist: 100, so that each document is a few kB and buffers fill fast. */
const SONGS = 100;

/** Opens a stream and never reads from it: the request is sent, the socket left alone. */
async function stalledViewer(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = `GET /api/stream?artist=${ARTIST}&window=all&limit=100 HTTP/1.1\r\n` +
    `Host: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`;
  await conn.write(new TextEncoder().encode(request));
  return conn;
}

test({
  name: "dashboard: 300 viewers that never read while 100,000 plays flow",
  timeoutMs: 150_000,
  async fn() {
    const names = dashboardNames();
    await produceRaw(names.topic, [JSON.stringify(playAt(Date.now(), 1, { artist: ARTIST }))]);
    let memory: ReturnType<typeof sampleMemory> | undefined;
    let flowStarted = false;
    const dashboard = await startDashboard(names, {
      // Every viewer comes from this one address: the per-client cap must allow them all.
      args: ["--reconcile-every", "0", "--max-streams-per-client", String(VIEWERS)],
      onSpawn: (
        child,
      ) => (memory = sampleMemory(child.pid, { progress: () => (flowStarted ? 1 : 0) })),
    });
    const port = Number(new URL(dashboard.url).port);
    const viewers: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < VIEWERS; i++) viewers.push(await stalledViewer(port));
      await waitFor(
        "every viewer subscribed",
        async () => {
          return (await dashboard.health()).streams === VIEWERS;
        },
        30_000,
        200,
      );

      // The plays flow for 20 s, every document changing each tick.
      const slowest = { ms: 0 };
      flowStarted = true;
      const flowing = (async () => {
        const batch = 1_000;
        const started = Date.now();
        for (let sent = 0; sent < PLAYS; sent += batch) {
          const due = started + (sent / RATE) * 1000;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
          const now = Date.now();
          await produceRaw(
            names.topic,
            Array.from({ length: batch }, (_, i) =>
              JSON.stringify(
                playAt(now - 1_000, 1 + ((sent + i) % SONGS), {
                  artist: ARTIST,
                  song_name: `song-${1 + ((sent + i) % SONGS)}`,
                }),
              )),
          );
        }
      })();
      // /healthz answers promptly throughout.
      let done = false;
      const probing = (async () => {
        while (!done) {
          const started = performance.now();
          const { status } = await getJson(dashboard.url, "/healthz");
          assert.equal(status, 200);
          slowest.ms = Math.max(slowest.ms, performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();
      await flowing;
      await waitFor(
        "every play counted",
        async () => {
          const top = await getJson(dashboard.url, `/api/top?artist=${ARTIST}&window=all`);
          return top.body.total === PLAYS + 1;
        },
        60_000,
        250,
      );
      const health = await dashboard.health();
      assert.equal(
        Number(health.streams) + Number(health.streams_dropped),
        VIEWERS,
        "each viewer still connected or cut off",
      );
      done = true;
      await probing;
      const samples = await memory!.stop();
      const peak = peakMb(samples);
      const [atStart] = rssAtProgress(samples, [1]);
      assert.ok(atStart !== undefined, "a sample when the plays started");
      assert.ok(
        peak - atStart < GROWTH_LIMIT_MB,
        `grew from ${atStart} MB to a peak of ${peak} MB while viewers stalled`,
      );
      assert.ok(slowest.ms < 1_000, `/healthz took up to ${Math.round(slowest.ms)} ms`);
      console.log(
        `RSS ${atStart} MB, peak ${peak} MB with ${VIEWERS} stalled viewers; slowest /healthz ${
          Math.round(slowest.ms)
        } ms`,
      );
    } finally {
      for (const viewer of viewers) {
        try {
          viewer.close();
        } catch {
          // closed by the server already
        }
      }
      await memory?.stop();
      await dashboard.stop();
    }
  },
});
