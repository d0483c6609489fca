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
import { type Child as Process, spawnTask, taskRunArgs } from "./shared/launch/mod.ts";
import { artistSlug } from "./shared/produce/mod.ts";

const options = {
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
/** What a script's progress line sends to redraw itself on a terminal. */
const CLEAR_LINE = "\x1b[2K";
const encoder = new TextEncoder();
const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));

/** A script as the combined view shows it. */
interface Shown {
  name: string;
  /** The script's latest progress line. */
  status: string;
}

interface Child extends Shown {
  process: Process;
}

/**
 * Starts a task's script with the grants the task's launcher computes from
 * its configuration, passing each line to `onLine`.
 */
async function spawn(
  name: string,
  task: string,
  args: string[],
  onLine: (shown: Shown, line: string) => void,
): Promise<Child> {
  const shown = { name, status: "starting" };
  const process = await spawnTask(task, args, {
    root: ROOT,
    env: { LIVECHARTS_PROGRESS_MS: "1000" },
    keepLines: 0,
    onLine: (line) => onLine(shown, line.text.replaceAll(CLEAR_LINE, "").replaceAll("\r", "")),
  });
  return Object.assign(shown, { process });
}

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task start [options]",
    summary: "Runs the whole pipeline locally: services, consumer, dashboard and producer.",
  }, options);

  if (!config.skipUp) {
    // The services script shows its own progress (downloads and installs on
    // a cold machine, then each service's wait) straight on this terminal.
    write("Starting Kafka and the local BigQuery (the first time: downloads, a few minutes)\n");
    const up = await new Deno.Command("bash", {
      args: ["infra/services.sh", "up"],
      cwd: ROOT,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!up.success) {
      console.error(
        `error: the services did not start (exit code ${up.code}): the line starting with ` +
          `'services:' above says why and names the log; 'deno task status' shows what runs, ` +
          `'bash infra/services.sh logs' the last lines of each log`,
      );
      return 1;
    }
  }

  const tty = Deno.stderr.isTerminal();
  let drawn = 0;
  const children: Child[] = [];
  const redraw = () => {
    if (!tty) return;
    const lines = children.map((child) => `  ${child.status}`);
    write(
      `${drawn > 0 ? `\x1b[${drawn}A` : ""}${lines.map((line) => `\x1b[2K${line}\n`).join("")}`,
    );
    drawn = lines.length;
  };
  const onLine = (child: Shown, line: string) => {
    if (line.startsWith(`${child.name}:`)) {
      child.status = line;
      if (!tty) write(`${line}\n`);
    } else if (line.trim() !== "") {
      if (tty && drawn > 0) write(`\x1b[${drawn}A\x1b[J`);
      drawn = 0;
      write(`[${child.name}] ${line}\n`);
    }
    redraw();
  };

  const stop = shutdownSignal();
  const hasDashboard = await taskRunArgs(ROOT, "dashboard").then(() => true, () => false);
  // Flow order: the consumer and the dashboard are ready before plays arrive.
  children.push(await spawn("consumer", "consume", [], onLine));
  if (hasDashboard) children.push(await spawn("dashboard", "dashboard", [], onLine));
  const producerArgs = [
    "--rate",
    String(config.rate),
    ...(config.artist ? ["--artist", config.artist] : []),
  ];
  children.push(await spawn("producer", "produce", producerArgs, onLine));
  if (hasDashboard) {
    write(
      `Dashboard: http://${Deno.env.get("DASHBOARD_HOST") ?? "127.0.0.1"}:${
        Deno.env.get("DASHBOARD_PORT") ?? "8080"
      }\n`,
    );
  }
  write("Press Ctrl-C to stop (the services keep running; 'deno task down' stops them).\n");
  const redrawing = setInterval(redraw, 1000);

  const firstExit = Promise.race(children.map((child) => child.process.done.then(() => child)));
  const ended = await Promise.race([
    firstExit,
    new Promise<undefined>((resolve) => stop.addEventListener("abort", () => resolve(undefined))),
  ]);
  if (ended !== undefined) write(`${ended.name} exited; stopping the others\n`);

  // Shutdown in flow order: producer, consumer, dashboard.
  let code = 0;
  for (const name of ["producer", "consumer", "dashboard"]) {
    const child = children.find((c) => c.name === name);
    if (child === undefined) continue;
    child.process.kill("SIGTERM");
    const { code: exit } = await child.process.done;
    if (exit !== 0 && exit !== 130) code = 1;
  }
  clearInterval(redrawing);
  redraw();
  write("Stopped. The services are still up: 'deno task down' stops them.\n");
  return ended === undefined ? code : 1;
}

if (import.meta.main) {
  main().then(Deno.exit, (error) => {
    console.error(`error: ${errorMessage(error)}`);
    Deno.exit(1);
  });
}
