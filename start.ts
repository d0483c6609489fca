/**
 * `deno task start`: brings up Kafka and the BigQuery emulator, then runs the
 * consumer, the dashboard and the producer with one combined progress view.
 * Ctrl-C stops the scripts in flow order (producer, consumer, dashboard);
 * the services stay up (`deno task down` stops them).
 *
 * @module
 */

import { errorMessage } from "./shared/errors.ts";
import { decimal, parseArgsOrExit, shutdownSignal } from "./shared/cli/mod.ts";
import { createCombinedView, startServices, taskRunArgs } from "./shared/launch/mod.ts";
import { artistSlug } from "./shared/event.ts";

/** The options of this script (listed in the configuration reference). */
export const options = {
  rate: {
    flag: "rate",
    arg: "R",
    help: "Producer events per second",
    fallback: 20,
    parse: decimal(0),
  },
  artist: {
    flag: "artist",
    arg: "SLUG",
    help: "Produce plays of this artist only",
    fallback: undefined,
    fallbackHelp: "all",
    parse: artistSlug,
  },
  skipUp: {
    flag: "no-up",
    help: "Do not start the services (they already run)",
    fallback: false,
    parse: () => true,
  },
};

const ROOT = new URL("./", import.meta.url);

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task start [options]",
    summary: "Runs the whole pipeline locally: services, consumer, dashboard and producer.",
  }, options);
  if (!config.skipUp && !await startServices(ROOT)) return 1;

  const view = createCombinedView(ROOT);
  const stop = shutdownSignal();
  const hasDashboard = await taskRunArgs(ROOT, "dashboard").then(() => true, () => false);
  // Flow order: the consumer and the dashboard are ready before plays arrive.
  const consumer = await view.spawn("consumer", "consume", []);
  const dashboard = hasDashboard ? await view.spawn("dashboard", "dashboard", []) : undefined;
  const producer = await view.spawn("producer", "produce", [
    "--rate",
    String(config.rate),
    ...(config.artist ? ["--artist", config.artist] : []),
  ]);
  if (hasDashboard) {
    view.write(
      `Dashboard: http://${Deno.env.get("DASHBOARD_HOST") ?? "127.0.0.1"}:${
        Deno.env.get("DASHBOARD_PORT") ?? "8080"
      }\n`,
    );
  }
  view.write("Press Ctrl-C to stop (the services keep running; 'deno task down' stops them).\n");
  view.start();

  // Shutdown in flow order: producer, consumer, dashboard.
  const scripts = [producer, consumer, ...(dashboard === undefined ? [] : [dashboard])];
  const firstExit = Promise.race(scripts.map((script) => script.process.done.then(() => script)));
  const ended = await Promise.race([
    firstExit,
    new Promise<undefined>((resolve) => stop.addEventListener("abort", () => resolve(undefined))),
  ]);
  if (ended !== undefined) view.write(`${ended.name} exited; stopping the others\n`);
  let code = 0;
  for (const script of scripts) {
    script.process.kill("SIGTERM");
    const { code: exit } = await script.process.done;
    if (exit !== 0 && exit !== 130) code = 1;
  }
  view.stop();
  view.write("Stopped. The services are still up: 'deno task down' stops them.\n");
  return ended === undefined ? code : 1;
}

if (import.meta.main) {
  main().then(Deno.exit, (error) => {
    console.error(`error: ${errorMessage(error)}`);
    Deno.exit(1);
  });
}
