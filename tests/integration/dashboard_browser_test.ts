// Browser test: headless Chromium (Debian's /usr/bin/chromium) drives the
// real page against a dashboard reading a real Kafka topic. Every wait is on
// a DOM condition (an element, a text, a size, animations finished), never a
// fixed delay.

import assert from "node:assert/strict";
import { startDashboard } from "../../bench/dashboard.ts";
import { animationsDone, ARTIFACTS, browserTest, launchBrowser } from "../support/browser.ts";
import { dashboardNames, playAt, startBigQueryStandIn } from "../support/dashboard.ts";
import { consumerArgs, openEventSender, runScript } from "../support/harness.ts";

const XSS = "<img src=x onerror=alert(1)>";

/** Polls `read` (a DOM read) until `holds` is true of its value; throws after `timeoutMs`. */
async function until<T>(
  what: string,
  read: () => Promise<T>,
  holds: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what} (last: ${value})`);
    await new Promise((resolve) => requestAnimationFrameLike(resolve));
  }
}

/** One poll interval of {@linkcode until}: short, about a frame. */
function requestAnimationFrameLike(resolve: (value: unknown) => void): void {
  setTimeout(resolve, 16);
}

browserTest(
  "dashboard page: bars grow live, windows and artists switch, names stay text",
  async () => {
    const names = dashboardNames();
    const now = Date.now();
    const producer = await openEventSender(names.topic);
    const counts: [number, number][] = [[1, 5], [2, 3], [3, 2]];
    await producer.send([
      ...counts.flatMap(([song, n]) => Array.from({ length: n }, () => playAt(now - 20_000, song))),
      playAt(now - 2 * 3_600_000, 4), // only in the 24 h window
      playAt(now - 10_000, 42, { song_name: XSS }),
      playAt(now - 10_000, 1, { artist: "fela-kuti", song_name: "water-no-get-enemy" }),
    ]);

    const dashboard = await startDashboard(names, { args: ["--reconcile-every", "0"] });
    const browser = await launchBrowser();
    const dialogs: string[] = [];
    const errors: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      page.on("pageerror", (error) => errors.push(error.message));
      const requests: string[] = [];
      page.on("request", (request) => requests.push(request.url()));

      await page.goto(new URL("/?artist=tony-allen&window=5m", dashboard.url).href);
      const row = (name: string) => page.locator(".row", { hasText: name });
      await row("zombie").locator(".plays", { hasText: "5" }).waitFor({ timeout: 10_000 });
      // Nothing below the list covers a row, even in the first moments of the
      // first document (the list used to grow into its height over 0.5 s,
      // the plays-over-time chart drawn over its rows meanwhile).
      const lowestRow = Math.max(
        ...await page.locator("#bars .row").evaluateAll((els) =>
          els.map((el) => el.getBoundingClientRect().bottom)
        ),
      );
      const listBottom = await page.locator("#bars").evaluate((el) =>
        el.getBoundingClientRect().bottom
      );
      const trendTop = await page.locator("#trend").evaluate((el) =>
        el.hasAttribute("hidden") ? null : el.getBoundingClientRect().top
      );
      assert.ok(
        lowestRow <= listBottom + 0.5,
        `rows end at ${lowestRow}, the list at ${listBottom}`,
      );
      assert.ok(
        trendTop !== null && lowestRow <= trendTop + 0.5,
        `rows end at ${lowestRow}, the chart starts at ${trendTop}`,
      );
      assert.equal(await page.locator("#title").textContent(), "Tony Allen");
      assert.equal(await page.locator("#connection").getAttribute("data-state"), "live");
      assert.equal(await row("lady").locator(".plays").textContent(), "3");
      // Ten plays of three songs plus the markup-named song's; the total counts up.
      await page.locator("#total", { hasText: /^11$/ }).waitFor({ timeout: 5_000 });
      const widthOf = (name: string) =>
        row(name).locator(".fill").evaluate((el) => el.getBoundingClientRect().width);
      await animationsDone(page); // the bars finished growing in
      const before = await widthOf("lady");

      // One more play of "lady": its bar grows within a second.
      const sentAt = Date.now();
      await producer.send([playAt(Date.now(), 2)]);
      await row("lady").locator(".plays", { hasText: "4" }).waitFor({ timeout: 1_000 });
      const latency = Date.now() - sentAt;
      assert.ok(latency < 1_000, `shown ${latency} ms after producing`);
      await until("a longer bar", () => widthOf("lady"), (width) => width > before);
      await animationsDone(page);
      await page.screenshot({ path: new URL("dashboard_live.png", ARTIFACTS).pathname });

      // Window: 24 hours adds the older play, and the URL follows.
      await page.click('button[data-window="24h"]');
      await row("kindness").waitFor({ timeout: 5_000 });
      assert.match(page.url(), /window=24h/);
      assert.equal(await page.locator("#subtitle").textContent(), "Top 10 songs · last 24 hours");
      assert.equal(
        await page.locator('button[data-window="24h"]').getAttribute("aria-pressed"),
        "true",
      );

      // The song named like markup is shown as text, and no element was made of it.
      const xss = row(XSS);
      await xss.waitFor({ timeout: 5_000 });
      assert.equal(await xss.locator(".name").textContent(), XSS);
      assert.equal(await page.locator("#bars img").count(), 0);

      // Artist: the picker lists the artists seen.
      await page.locator('#artist option[value="fela-kuti"]').waitFor({
        state: "attached",
        timeout: 15_000,
      });
      assert.equal(await page.locator("#artist option").count(), 2);
      await page.selectOption("#artist", "fela-kuti");
      await page.locator("#title", { hasText: "Fela Kuti" }).waitFor({ timeout: 5_000 });
      await row("water-no-get-enemy").waitFor({ timeout: 5_000 });
      assert.match(page.url(), /artist=fela-kuti/);
      assert.equal(await page.locator(".row").count(), 1);

      // The overview: each artist's plays in the window, pushed as they change.
      await page.goto(new URL("/overview?window=5m", dashboard.url).href);
      const artistRow = (slug: string) => page.locator(`tr[data-artist="${slug}"]`);
      await artistRow("fela-kuti").locator(".total", { hasText: /^1$/ }).waitFor({
        timeout: 10_000,
      });
      assert.equal(await page.locator("#connection").getAttribute("data-state"), "live");
      await producer.send([
        playAt(Date.now(), 1, { artist: "fela-kuti", song_name: "water-no-get-enemy" }),
      ]);
      await artistRow("fela-kuti").locator(".total", { hasText: /^2$/ }).waitFor({
        timeout: 5_000,
      });
      assert.equal(await page.locator("tr[data-artist]").count(), 2);

      // A linked view opens as linked.
      await page.goto(new URL("/?artist=tony-allen&window=all", dashboard.url).href);
      await row("zombie").waitFor({ timeout: 5_000 });
      assert.equal(
        await page.locator('button[data-window="all"]').getAttribute("aria-pressed"),
        "true",
      );
      // All time: the ten plays, the older one, the markup-named song's and the live one.
      await page.locator("#total", { hasText: /^13$/ }).waitFor({ timeout: 5_000 });
      await animationsDone(page);
      await page.screenshot({ path: new URL("dashboard.png", ARTIFACTS).pathname });

      // Phone width: still one readable column.
      await page.setViewportSize({ width: 390, height: 844 });
      // (Locator callbacks, not string scripts: the page's CSP forbids eval.)
      await until(
        "the phone layout",
        () => page.locator("html").evaluate((el) => el.clientWidth),
        (width) => width <= 390,
      );
      await animationsDone(page);
      const overflow = await page.locator("html").evaluate((el) => el.scrollWidth - el.clientWidth);
      assert.equal(overflow, 0, "no horizontal scrolling on a phone");
      await page.screenshot({ path: new URL("dashboard_phone.png", ARTIFACTS).pathname });

      // Everything came from the dashboard itself (no CDN).
      const origin = new URL(dashboard.url).origin;
      assert.deepEqual(requests.filter((url) => !url.startsWith(origin)), []);

      // The server going away shows as reconnecting.
      await dashboard.stop();
      await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 10_000 });

      assert.deepEqual(dialogs, []);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await dashboard.stop();
      await producer.close();
    }
  },
);

browserTest(
  "dashboard page: says so while BigQuery is away, and goes live when it is back",
  async () => {
    const names = dashboardNames();
    const producer = await openEventSender(names.topic);
    // History: stored and committed by the consumer before the dashboard starts.
    await producer.send(Array.from({ length: 7 }, () => playAt(Date.now() - 30_000, 1)));
    const consumed = await runScript("consume", consumerArgs(names, ["--exit-when-idle", "2"]));
    assert.equal(consumed.code, 0, consumed.stderr);

    const standIn = startBigQueryStandIn();
    const dashboard = await startDashboard(names, {
      emulator: standIn.url,
      until: "serving",
      args: ["--reconcile-every", "0"],
    });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(new URL("/?artist=tony-allen&window=all", dashboard.url).href);
      await page.locator('#connection[data-state="degraded"]').waitFor({ timeout: 60_000 });
      const notice = page.locator("#notice");
      await notice.waitFor({ state: "visible", timeout: 5_000 });
      assert.match(
        (await notice.textContent()) ?? "",
        /^BigQuery unreachable \(.+\): the history is missing, only plays read from Kafka since .+ are counted; retrying$/,
      );
      assert.equal(await page.locator("#connection-text").textContent(), "Degraded");

      // Live plays are counted meanwhile.
      await producer.send([playAt(Date.now(), 2), playAt(Date.now(), 2)]);
      await page.locator(".row", { hasText: "lady" }).locator(".plays", { hasText: /^2$/ })
        .waitFor({ timeout: 5_000 });
      await page.screenshot({ path: new URL("dashboard_degraded.png", ARTIFACTS).pathname });

      // BigQuery answers again: the history comes in and the notice goes.
      standIn.refusing = false;
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: 60_000 });
      await notice.waitFor({ state: "hidden", timeout: 5_000 });
      await page.locator(".row", { hasText: "zombie" }).locator(".plays", { hasText: /^7$/ })
        .waitFor({ timeout: 5_000 });
      await page.locator("#total", { hasText: /^9$/ }).waitFor({ timeout: 5_000 });
    } finally {
      await browser.close();
      await dashboard.stop();
      await standIn.close();
      await producer.close();
    }
  },
);
