/**
 * Headless Chromium for the dashboard's browser tests: Debian's
 * /usr/bin/chromium driven by playwright-core (no browser download), and the
 * waits those tests share.
 *
 * @module
 */

import { test } from "./integration.ts";
import { type Browser, chromium, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/** Where the browser tests write their screenshots (tests/artifacts/). */
export const ARTIFACTS = new URL("../artifacts/", import.meta.url);

/** Whether Chromium is installed where {@linkcode launchBrowser} looks for it. */
function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/**
 * Registers a browser test: skipped where Chromium is missing, except on CI
 * (where it must run); without the resource and op sanitizers, as the
 * browser and the Kafka client outlive a test's own bookkeeping.
 */
export function browserTest(name: string, fn: () => Promise<void>, timeoutMs = 120_000): void {
  test({
    name,
    timeoutMs,
    ignore: !hasChromium() && Deno.env.get("CI") !== "true",
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

/** Launches headless Chromium; every launch gets a fresh temporary profile (user-data dir). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** What the page's animations are read for. */
interface PageAnimation {
  effect: { getTiming(): { iterations?: number } } | null;
  finished: Promise<unknown>;
}

/** Resolves once every finite CSS animation and transition of the page has finished. */
export async function animationsDone(page: Page): Promise<void> {
  await page.locator("html").evaluate((html) =>
    Promise.all(
      html.getAnimations({ subtree: true })
        .filter((animation: PageAnimation) => animation.effect?.getTiming().iterations !== Infinity)
        .map((animation: PageAnimation) => animation.finished.catch(() => {})),
    ).then(() => undefined)
  );
}
