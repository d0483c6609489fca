/**
 * Helpers every entry script uses: option parsing with `--help`, clean exit
 * on bad input, and one abort signal for SIGINT/SIGTERM.
 *
 * @module
 */

import {
  envNames,
  formatHelp,
  formatOptionError,
  type Option,
  OptionError,
  parseOptions,
  readEnv,
  type Values,
} from "./options.ts";

/** Description of a script for `--help`. */
export interface ScriptInfo {
  usage: string;
  summary: string;
}

/**
 * Parses the script's flags and environment. Prints help and exits 0 on
 * `--help`; prints every problem (one `error:` line each) and exits 2 on bad
 * values.
 */
export function parseArgsOrExit<S extends Record<string, Option<unknown>>>(
  info: ScriptInfo,
  options: S,
  args: readonly string[] = Deno.args,
): Values<S> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(formatHelp(info.usage, info.summary, options));
    Deno.exit(0);
  }
  try {
    return parseOptions(options, args, readEnv(envNames(options)));
  } catch (error) {
    if (error instanceof OptionError) {
      console.error(formatOptionError(error));
      Deno.exit(2);
    }
    throw error;
  }
}

/**
 * A signal aborted by the first SIGINT or SIGTERM. A second one at least a
 * second later (a deliberate second Ctrl-C) exits at once; one arriving
 * together with the first (a terminal and a supervisor both signalling) is
 * ignored.
 */
export function shutdownSignal(onSignal?: (name: string) => void): AbortSignal {
  const controller = new AbortController();
  let first = 0;
  const handle = (name: Deno.Signal) => () => {
    if (controller.signal.aborted) {
      if (performance.now() - first < 1_000) return;
      console.error(`\nReceived ${name} again: exiting now`);
      Deno.exit(130);
    }
    first = performance.now();
    onSignal?.(name);
    controller.abort(name);
  };
  Deno.addSignalListener("SIGINT", handle("SIGINT"));
  Deno.addSignalListener("SIGTERM", handle("SIGTERM"));
  return controller.signal;
}

/** A signal aborted `ms` milliseconds after `after` aborts. */
export function deadlineAfter(after: AbortSignal, ms: number): AbortSignal {
  const controller = new AbortController();
  after.addEventListener("abort", () => {
    const timer = setTimeout(() => controller.abort("deadline"), ms);
    Deno.unrefTimer(timer);
  }, { once: true });
  return controller.signal;
}
