/**
 * A one-line progress display: redrawn in place on a terminal, printed as a
 * plain line every few seconds otherwise (logs, CI, tests).
 *
 * @module
 */

/** Options of {@linkcode startProgress}. */
export interface ProgressOptions {
  /** Returns the current line. */
  render: () => string;
  /** Redraw interval in milliseconds (default 1000 on a terminal, 5000 otherwise). */
  intervalMs?: number;
  /** Whether stderr is a terminal (default: detected). */
  tty?: boolean;
  /** Where lines go (default: stderr). */
  write?: (text: string) => void;
}

/** A running display; `stop()` prints the final line. */
export interface Progress {
  stop(): void;
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/** `LIVECHARTS_PROGRESS_MS`, set by `deno task start` for its combined view. */
function intervalFromEnv(): number | undefined {
  try {
    const value = Number(Deno.env.get("LIVECHARTS_PROGRESS_MS"));
    return Number.isInteger(value) && value >= 100 ? value : undefined;
  } catch {
    return undefined; // not granted
  }
}

/** Starts redrawing the progress line. */
export function startProgress(options: ProgressOptions): Progress {
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const write = options.write ?? writeStderr;
  const interval = options.intervalMs ?? intervalFromEnv() ?? (tty ? 1000 : 5000);
  const draw = () => write(tty ? `\r\x1b[2K${options.render()}` : `${options.render()}\n`);
  const timer = setInterval(draw, interval);
  return {
    stop() {
      clearInterval(timer);
      write(tty ? `\r\x1b[2K${options.render()}\n` : `${options.render()}\n`);
    },
  };
}

/**
 * Tracks a per-second rate over a sliding interval between samples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rateMeter } from "./progress.ts";
 * let now = 0;
 * const meter = rateMeter(() => now);
 * now = 2_000;
 * assert.equal(meter(500), 250); // 500 events in 2 s
 * ```
 */
export function rateMeter(
  clock: () => number = () => performance.now(),
): (total: number) => number {
  let lastTotal = 0;
  let lastAt = clock();
  let rate = 0;
  return (total) => {
    const at = clock();
    const elapsed = at - lastAt;
    if (elapsed >= 500) {
      rate = ((total - lastTotal) * 1000) / elapsed;
      lastTotal = total;
      lastAt = at;
    }
    return rate;
  };
}

/** Formats a count compactly: 950, 12.3k, 4.56M. */
export function compact(value: number): string {
  // Thresholds are where rounding would print "10000" or "1000.0k".
  if (value < 9_999.5) return String(Math.round(value));
  if (value < 999_950) return `${(value / 1000).toFixed(1)}k`;
  return `${(value / 1_000_000).toFixed(2)}M`;
}
