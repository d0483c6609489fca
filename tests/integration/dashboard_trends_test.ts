// Browser test of the dashboard's trends: headless Chromium (Debian's
// /usr/bin/chromium) against a dashboard reading a real Kafka topic. Every
// wait is on a DOM condition, never a fixed delay.

import assert from "node:assert/strict";
import { startDashboard } from "../../bench/dashboard.ts";
import type { TopDocument } from "../../shared/live/http/server.ts";
import { animationsDone, ARTIFACTS, browserTest, launchBrowser } from "../support/browser.ts";
import { dashboardNames, playAt } from "../support/dashboard.ts";
import { openEventSender } from "../support/harness.ts";

const MINUTE = 60_000;

/**
 * A TCP proxy to `target` (host:port) on a free local port, whose open
 * connections can be cut at once: a network drop the browser sees as such.
 */
function startProxy(target: { hostname: string; port: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipe = (from: Deno.Conn, to: Deno.Conn) =>
    from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
      for (const conn of [from, to]) {
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    });
  const accepting = (async () => {
    for await (const client of listener) {
      try {
        const server = await Deno.connect(target);
        open.add(client).add(server);
        pipe(client, server);
        pipe(server, client);
      } catch {
        client.close();
      }
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${listener.addr.port}/`,
    /** Cuts every open connection; new ones are still forwarded. */
    cut() {
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      open.clear();
    },
    async close() {
      this.cut();
      listener.close();
      await accepting;
    },
  };
}

browserTest(
  "dashboard page: sparklines and rank changes move when plays arrive, export, overview",
  async () => {
    const names = dashboardNames();
    const now = Date.now();
    const producer = await openEventSender(names.topic);
    const times = (n: number, event: () => Record<string, unknown>) =>
      Array.from({ length: n }, event);
    await producer.send([
      // The 5 minutes before the window: zombie leads lady.
      ...times(3, () => playAt(now - 7 * MINUTE, 1)),
      ...times(1, () => playAt(now - 7 * MINUTE, 2)),
      // The window: zombie still leads, secret-agent is new.
      ...times(3, () => playAt(now - 2 * MINUTE, 1)),
      ...times(2, () => playAt(now - MINUTE, 2)),
      ...times(1, () => playAt(now - MINUTE, 3)),
    ]);

    const dashboard = await startDashboard(names, { args: ["--reconcile-every", "0"] });
    const proxy = startProxy({ hostname: "127.0.0.1", port: Number(new URL(dashboard.url).port) });
    const browser = await launchBrowser();
    const errors: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(new URL("/?artist=tony-allen&window=5m", proxy.url).href);
      const row = (name: string) => page.locator(".row", { hasText: name });
      await row("zombie").locator(".plays", { hasText: /^3$/ }).waitFor({ timeout: 10_000 });
      await row("secret-agent").waitFor({ timeout: 5_000 });
      const change = (name: string) => row(name).locator(".change");
      await change("zombie").filter({ hasText: "–" }).waitFor({ timeout: 5_000 });
      assert.equal(await change("lady").textContent(), "–");
      assert.equal(await change("secret-agent").textContent(), "NEW");
      assert.equal(await change("secret-agent").getAttribute("data-direction"), "new");
      // The sparkline is drawn from the API's series. Both are read again until
      // they agree: a series' points move on with the clock, so a read on each
      // side of a point's boundary differs by a shift.
      const sparkOf = (name: string) => row(name).locator(".spark").getAttribute("data-series");
      const ladyNow = async () => {
        const api: TopDocument = await (await fetch(
          new URL("/api/top?artist=tony-allen&window=5m", dashboard.url),
        )).json();
        return api.songs.find((song) => song.song_id === 2)!;
      };
      let lady = await ladyNow();
      let before = await sparkOf("lady");
      for (const until = Date.now() + 5_000; Date.now() < until;) {
        if (before === lady.series?.join(",")) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
        [lady, before] = [await ladyNow(), await sparkOf("lady")];
      }
      assert.ok(lady.series !== null && lady.series.length > 1 && lady.series.length <= 60);
      assert.equal(before, lady.series.join(","));
      // The line has a point per value of the series it was drawn from, both
      // read at once: the page may redraw between two reads as a point's
      // boundary passes (50 points, then 51).
      const drawn = await row("lady").evaluate((el) => ({
        series: el.querySelector(".spark")?.getAttribute("data-series")?.split(",").length,
        points: el.querySelector(".spark-line")?.getAttribute("points")?.split(" ").length,
      }));
      assert.ok(drawn.series !== undefined && drawn.series > 1, JSON.stringify(drawn));
      assert.equal(drawn.points, drawn.series);

      // Two plays of lady now: it overtakes zombie (4 to 3), its sparkline rises at the end.
      await producer.send(times(2, () => playAt(Date.now(), 2)));
      await change("lady").filter({ hasText: "▲1" }).waitFor({ timeout: 5_000 });
      await change("zombie").filter({ hasText: "▼1" }).waitFor({ timeout: 5_000 });
      assert.equal(await change("lady").getAttribute("data-direction"), "up");
      assert.equal(await change("zombie").getAttribute("data-direction"), "down");
      const after = (await sparkOf("lady"))!.split(",").map(Number);
      assert.notEqual(after.join(","), before);
      assert.equal(after.reduce((a, b) => a + b, 0), 4);
      assert.equal(await row("lady").locator(".rank").textContent(), "1");

      // Plays over time: all songs as an area, the top three as lines, a local-time axis.
      await page.locator("#trend").waitFor({ state: "visible", timeout: 5_000 });
      assert.equal(await page.locator("#trend-svg .trend-line").count(), 3);
      assert.equal(
        await page.locator("#trend-svg .trend-line").first().getAttribute("data-song"),
        "2",
        "the number one first",
      );
      assert.deepEqual(
        await page.locator("#trend-legend li").allTextContents(),
        ["All songs (8)", "lady", "zombie", "secret-agent"],
      );
      assert.match((await page.locator("#trend-end").textContent()) ?? "", /\d/);

      // Export: the page's CSV and JSON downloads hold the numbers of /api/top.
      const download = async (link: string) => {
        const [file] = await Promise.all([page.waitForEvent("download"), page.click(link)]);
        return await Deno.readTextFile((await file.path())!);
      };
      const exported: TopDocument = JSON.parse(await download("#export-json"));
      const csv = await download("#export-csv");
      const top: TopDocument = await (await fetch(
        new URL("/api/top?artist=tony-allen&window=5m", dashboard.url),
      )).json();
      // (The clock moves between the two: compare what plays alone change.)
      const numbersOf = (doc: TopDocument) => ({
        view: [doc.artist, doc.window, doc.total, doc.last_event_at],
        songs: doc.songs.map(({ series: _, ...song }) => song),
      });
      assert.deepEqual(numbersOf(exported), numbersOf(top));
      assert.deepEqual(
        csv.trim().split("\r\n").slice(1).map((line) => line.split(",").slice(5, 8).join(",")),
        top.songs.map((song) => `${song.song_id},${song.song_name},${song.plays}`),
      );

      // Text equivalent: a table with the chart's numbers, for screen readers
      // (visually hidden) and on demand.
      const tableRows = () =>
        page.locator("#chart-rows tr").evaluateAll((rows) =>
          rows.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent))
        );
      const table = await tableRows();
      assert.deepEqual(
        table.map((cells) => [cells[1], cells[2]]),
        top.songs.map((song) => [song.song_name, String(song.plays)]),
      );
      assert.deepEqual(table.map((cells) => cells[3]), ["up 1", "down 1", "new"]);
      assert.equal(await page.locator("#bars").getAttribute("aria-hidden"), "true");
      await page.click("#table-toggle");
      await page.locator("#bars").waitFor({ state: "hidden", timeout: 5_000 });
      assert.ok(
        await page.locator("#chart-table").evaluate((el) => el.getBoundingClientRect().width > 300),
      );
      assert.equal(await page.locator("#table-toggle").getAttribute("aria-pressed"), "true");
      await page.click("#table-toggle");
      await page.locator("#bars").waitFor({ state: "visible", timeout: 5_000 });

      // 24 hours keeps no previous day: no marker; all time has no sparkline.
      await page.click('button[data-window="24h"]');
      await page.locator("#subtitle", { hasText: "last 24 hours" }).waitFor({ timeout: 5_000 });
      await row("lady").locator(".plays", { hasText: /^5$/ }).waitFor({ timeout: 5_000 });
      assert.equal(await change("lady").textContent(), "");
      await page.click('button[data-window="all"]');
      await page.locator("#subtitle", { hasText: "all time" }).waitFor({ timeout: 5_000 });
      await row("zombie").locator(".spark").waitFor({ state: "hidden", timeout: 5_000 });
      await page.locator("#trend").waitFor({ state: "hidden", timeout: 5_000 });

      // Freshness: the newest play counted and the reader's Kafka lag.
      await page.locator("#lag", { hasText: /^Kafka lag: 0 messages$/ }).waitFor({
        timeout: 10_000,
      });
      const newestShown = await page.locator("#newest").getAttribute("data-at");
      const newestApi: TopDocument = await (await fetch(
        new URL("/api/top?artist=tony-allen&window=all", dashboard.url),
      )).json();
      assert.equal(newestShown, newestApi.newest_event_at);

      // Reconnect: the connection drops, plays arrive meanwhile, and once
      // back the page shows exactly the server's numbers.
      proxy.cut();
      await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
      await producer.send(times(3, () => playAt(Date.now(), 3)));
      await row("secret-agent").locator(".plays", { hasText: /^4$/ }).waitFor({ timeout: 10_000 });
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: 5_000 });
      const health = await (await fetch(new URL("/healthz", dashboard.url))).json();
      assert.ok(health.streams_resumed >= 1, "the browser reconnected with Last-Event-ID");
      const afterReconnect: TopDocument = await (await fetch(
        new URL("/api/top?artist=tony-allen&window=all", dashboard.url),
      )).json();
      assert.deepEqual(
        await page.locator(".row").evaluateAll((rows) =>
          rows.map((
            el,
          ) => [
            Number(el.getAttribute("data-song")),
            Number(el.querySelector(".plays")!.textContent),
          ])
            .sort((a, b) => a[0]! - b[0]!)
        ),
        afterReconnect.songs.map((song) => [song.song_id, song.plays]).sort((a, b) =>
          a[0]! - b[0]!
        ),
      );
      await page.locator("#total", { hasText: new RegExp(`^${afterReconnect.total}$`) })
        .waitFor({ timeout: 5_000 });

      // Overview: every artist's total equals /api/top's, and links to the artist view.
      await producer.send([
        playAt(Date.now(), 1, { artist: "fela-kuti", song_name: "water-no-get-enemy" }),
      ]);
      await page.click("#overview-link");
      await page.waitForURL(/\/overview\?window=all$/);
      const artistRow = (artist: string) => page.locator(`tr[data-artist="${artist}"]`);
      await artistRow("fela-kuti").waitFor({ timeout: 5_000 });
      for (const artist of ["tony-allen", "fela-kuti"]) {
        const top: TopDocument = await (await fetch(
          new URL(`/api/top?artist=${artist}&window=all`, dashboard.url),
        )).json();
        await artistRow(artist).locator(".total", { hasText: new RegExp(`^${top.total}$`) })
          .waitFor({ timeout: 5_000 });
        assert.equal(
          await artistRow(artist).locator(".song").textContent(),
          top.songs[0]!.song_name,
        );
      }
      assert.equal(
        await page.locator("tbody tr").first().getAttribute("data-artist"),
        "tony-allen",
      );
      await artistRow("fela-kuti").locator("a").click();
      await page.waitForURL(/\/\?artist=fela-kuti&window=all$/);
      await page.locator("#title", { hasText: "Fela Kuti" }).waitFor({ timeout: 5_000 });
      await row("water-no-get-enemy").waitFor({ timeout: 5_000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await proxy.close();
      await dashboard.stop();
      await producer.close();
    }
  },
);

browserTest(
  "dashboard page: fits a phone and a 4K wall screen; screenshots of the artist view and overview",
  async () => {
    const names = dashboardNames();
    const now = Date.now();
    const producer = await openEventSender(names.topic);
    const songs = [
      "zombie",
      "lady",
      "secret-agent",
      "kindness",
      "soldiers",
      "african-message",
      "road-to-lagos",
      "jealousy",
      "hustler",
      "progress",
    ];
    const events: Record<string, unknown>[] = [];
    // A deterministic mix: the last hour and the hour before, ranks shuffled between them.
    songs.forEach((song_name, i) => {
      const song_id = i + 1;
      const before = 4 + ((i * 7) % 10);
      const recent = 24 - 2 * i + (i % 3);
      for (let n = 0; n < before; n++) {
        events.push(playAt(now - 70 * MINUTE - n * 173_000, song_id, { song_name }));
      }
      for (let n = 0; n < recent; n++) {
        // Denser towards now for the risers (low i), evenly for the others.
        const age = 58 * MINUTE * Math.pow((n + 0.5) / recent, i < 4 ? 0.7 : 1.3);
        events.push(playAt(now - age, song_id, { song_name }));
      }
    });
    const artists = [
      "fela-kuti",
      "ebo-taylor",
      "william-onyeabor",
      "mulatu-astatke",
      "oumou-sangare",
    ];
    artists.forEach((artist, a) => {
      for (let n = 0; n < 40 - 6 * a; n++) {
        events.push(
          playAt(now - n * 53_000, 1 + (n % 4), { artist, song_name: `${artist}-${1 + (n % 4)}` }),
        );
      }
    });
    await producer.send(events);

    const dashboard = await startDashboard(names, { args: ["--reconcile-every", "0"] });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const shot = (name: string) =>
        page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });
      const overflow = () => page.locator("html").evaluate((el) => el.scrollWidth - el.clientWidth);

      await page.goto(new URL("/?artist=tony-allen&window=1h", dashboard.url).href);
      await page.locator(".row").nth(9).waitFor({ timeout: 10_000 });
      await page.locator(".change", { hasText: "▲" }).first().waitFor({ timeout: 5_000 });
      await page.locator("#lag", { hasText: /^Kafka lag: \d/ }).waitFor({ timeout: 20_000 });
      await animationsDone(page);
      await shot("dashboard_artist.png");

      // Phone: one column, no horizontal scrolling, sparklines still there.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.locator(".row").first().waitFor();
      await animationsDone(page);
      assert.equal(await overflow(), 0, "no horizontal scrolling on a phone");
      assert.ok(
        await page.locator(".row .spark").first().evaluate((el) =>
          el.getBoundingClientRect().width > 20
        ),
      );
      await shot("dashboard_artist_phone.png");

      // 4K wall screen: everything scales up, nothing overflows.
      await page.setViewportSize({ width: 3840, height: 2160 });
      await animationsDone(page);
      assert.equal(await overflow(), 0);
      const rootPx = await page.locator("html").evaluate((el) =>
        parseFloat(el.ownerDocument.defaultView?.getComputedStyle(el).fontSize ?? "0")
      );
      assert.ok(rootPx >= 30, `root font ${rootPx}px on 4K`);

      await page.setViewportSize({ width: 1440, height: 900 });
      await page.goto(new URL("/overview?window=1h", dashboard.url).href);
      await page.locator('tr[data-artist="oumou-sangare"]').waitFor({ timeout: 5_000 });
      await shot("dashboard_overview.png");
      await page.setViewportSize({ width: 390, height: 844 });
      await animationsDone(page);
      assert.equal(await overflow(), 0, "the overview fits a phone");
      await shot("dashboard_overview_phone.png");
    } finally {
      await browser.close();
      await dashboard.stop();
      await producer.close();
    }
  },
);
