/**
 * One terminal for several scripts (`deno task start`): each script's latest
 * progress line is kept at the bottom, redrawn in place, and its other lines
 * are printed above them, prefixed with its name. Without a terminal every
 * line is printed as it comes.
 *
 * @module
 */

import { type Child, spawnTask } from "./tasks.ts";

/** What a script's progress line sends to redraw itself on a terminal. */
const CLEAR_LINE = "\x1b[2K";
const encoder = new TextEncoder();

/** A script shown in the view. */
export interface ShownScript {
  name: string;
  /** The script's latest progress line. */
  status: string;
  process: Child;
}

/** The view of {@linkcode createCombinedView}. */
export interface CombinedView {
  /**
   * Starts a deno.json task's script with the grants the task's launcher
   * computes from its configuration, its lines shown in the view.
   */
  spawn(name: string, task: string, args: string[]): Promise<ShownScript>;
  /** Writes text to stderr as it is (below the progress lines). */
  write(text: string): void;
  /** Redraws the progress lines every second until {@linkcode CombinedView.stop}. */
  start(): void;
  /** Stops redrawing, after drawing the lines once more. */
  stop(): void;
}

/** A view of the scripts of the deno.json at `root` on stderr. */
export function createCombinedView(root: URL): CombinedView {
  const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  const tty = Deno.stderr.isTerminal();
  const shown: { name: string; status: string }[] = [];
  let drawn = 0;
  let redrawing: ReturnType<typeof setInterval> | undefined;
  const redraw = () => {
    if (!tty) return;
    const lines = shown.map((script) => `  ${script.status}`);
    write(
      `${drawn > 0 ? `\x1b[${drawn}A` : ""}${lines.map((line) => `\x1b[2K${line}\n`).join("")}`,
    );
    drawn = lines.length;
  };
  const onLine = (script: { name: string; status: string }, line: string) => {
    if (line.startsWith(`${script.name}:`)) {
      script.status = line;
      if (!tty) write(`${line}\n`);
    } else if (line.trim() !== "") {
      if (tty && drawn > 0) write(`\x1b[${drawn}A\x1b[J`);
      drawn = 0;
      write(`[${script.name}] ${line}\n`);
    }
    redraw();
  };
  return {
    async spawn(name, task, args) {
      const script = { name, status: "starting" };
      const process = await spawnTask(task, args, {
        root,
        env: { LIVECHARTS_PROGRESS_MS: "1000" },
        keepLines: 0,
        onLine: (line) => onLine(script, line.text.replaceAll(CLEAR_LINE, "").replaceAll("\r", "")),
      });
      shown.push(script);
      return Object.assign(script, { process });
    },
    write,
    start() {
      redrawing = setInterval(redraw, 1000);
    },
    stop() {
      clearInterval(redrawing);
      redraw();
    },
  };
}
