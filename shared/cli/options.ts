/**
 * Declarative command-line options: each option is declared once (flag,
 * environment variable, default, parser, description) and the same
 * declaration drives parsing, validation and `--help`.
 *
 * Precedence: flag, then environment variable, then default.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";

/** One problem with a flag or variable, and how a valid setting looks. */
export interface OptionProblem {
  /** What is wrong, naming the flag and variable: `Invalid --count (COUNT): ...`. */
  text: string;
  /** A valid setting of the same flag or variable, e.g. `COUNT=10`, when one is known. */
  example?: string;
}

/**
 * Bad flags or variables: every problem found, each naming its flag or
 * variable. The message lists the problems' texts, one a line.
 */
export class OptionError extends Error {
  /** Every problem found, in the order of the arguments, then the table. */
  readonly problems: readonly OptionProblem[];
  constructor(problems: string | readonly OptionProblem[]) {
    const list = typeof problems === "string" ? [{ text: problems }] : problems;
    super(list.map((problem) => problem.text).join("\n"));
    this.name = "OptionError";
    this.problems = list;
  }
}

/**
 * The lines to show for an {@linkcode OptionError}: one `error:` line per
 * problem, with its example.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatOptionError, OptionError } from "./options.ts";
 * const error = new OptionError([{ text: "Invalid --count (COUNT): must be an integer, got \"x\"", example: "COUNT=10" }]);
 * assert.equal(
 *   formatOptionError(error),
 *   'error: Invalid --count (COUNT): must be an integer, got "x" (for example COUNT=10)',
 * );
 * ```
 */
export function formatOptionError(error: OptionError): string {
  return error.problems.map((problem) =>
    `error: ${problem.text}${problem.example ? ` (for example ${problem.example})` : ""}`
  ).join("\n");
}

/**
 * What the value of an option needs from the runtime, so that a launcher can
 * grant exactly that (see `permissions.ts`):
 * - `connect`: the value is `host:port`, a list of them or a URL, to connect to;
 * - `kafka`: the same for Kafka brokers (their advertised addresses are added);
 * - `listen`: a port to serve on; the host is the option whose flag ends in
 *   `host` instead of `port` (`--metrics-port` and `--metrics-host`);
 * - `read` / `write`: a file to read, or to write (and read);
 * - `none`: nothing.
 *
 * Without it the `arg` placeholder decides: `HOST:PORT`, `HOST:PORT,...` and
 * `URL` connect, `PORT` listens, `FILE` reads; anything else needs nothing.
 */
export type Grant = "connect" | "kafka" | "listen" | "read" | "write" | "socket" | "none";

/** Declaration of one option producing a value of type `T`. */
export interface Option<T> {
  /** Long flag name without dashes, e.g. `count` for `--count`. */
  flag: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  /** Placeholder shown in help, e.g. `N`; omit for a boolean switch. */
  arg?: string;
  /** One line for `--help`. */
  help: string;
  /** Default, or a function of the other raw values (for derived defaults). */
  fallback: T | ((raw: RawValues) => T);
  /** Turns the raw text into a value; throws a message without the name. */
  parse: (raw: string) => T;
  /** Text shown as the default in help when `fallback` is a function. */
  fallbackHelp?: string;
  /** A valid value shown in error messages (default: the default, when it is valid). */
  example?: string;
  /** What the value needs from the runtime (default: from `arg`, see {@linkcode Grant}). */
  grant?: Grant;
  /** A secret (e.g. a password): its value never appears in errors or help. */
  secret?: boolean;
  /** Not listed by `--help` nor the configuration reference (a failpoint for tests). */
  hidden?: boolean;
  /**
   * Checks the option against the others once all are parsed; returns the
   * whole error message when they do not fit together.
   */
  check?: (values: Readonly<Record<string, unknown>>) => string | undefined;
}

/** Raw text of each option that was given (flag or environment). */
export type RawValues = Record<string, string | undefined>;

/** Maps an option table to the typed values it parses to. */
export type Values<S extends Record<string, Option<unknown>>> = {
  [K in keyof S]: S[K] extends Option<infer T> ? T : never;
};

/** Parses a non-negative integer with an optional lower bound. */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const value = Number(raw.trim());
    if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value)) {
      throw new Error(`must be an integer, got ${JSON.stringify(raw)}`);
    }
    if (value < min || value > max) {
      throw new Error(
        max === Number.MAX_SAFE_INTEGER
          ? `must be at least ${min}, got ${value}`
          : `must be between ${min} and ${max}, got ${value}`,
      );
    }
    return value;
  };
}

/** Parses a finite number at least `min`. */
export function decimal(min = 0) {
  return (raw: string): number => {
    const value = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(value)) {
      throw new Error(`must be a number, got ${JSON.stringify(raw)}`);
    }
    if (value < min) throw new Error(`must be at least ${min}, got ${value}`);
    return value;
  };
}

/** Parses a non-empty string matching `pattern` (described by `what`). */
export function text(pattern = /^.+$/s, what = "a non-empty string") {
  return (raw: string): string => {
    if (!pattern.test(raw)) {
      throw new Error(`must be ${what}, got ${JSON.stringify(raw)}`);
    }
    return raw;
  };
}

/** Parses a switch: `true`, `false`, `1`, `0`, `yes`, `no`. */
export function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on", ""].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new Error(`must be true or false, got ${JSON.stringify(raw)}`);
}

/** Parses an optional string: empty means unset. */
export function optional(raw: string): string | undefined {
  return raw === "" ? undefined : raw;
}

/** Name of an option in messages: `--flag` or `--flag (ENV)`. */
function label(option: Option<unknown>): string {
  return option.env ? `--${option.flag} (${option.env})` : `--${option.flag}`;
}

/** The value of `option` as its raw text, for examples. */
function asText(value: unknown): string | undefined {
  if (value === undefined || value === null || typeof value === "function") return undefined;
  if (Array.isArray(value)) return value.map(String).join(",");
  return String(value);
}

/**
 * A valid raw value of `option`: its `example`, else its default (or the
 * first word of the default shown in help) when the option accepts it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exampleValue, integer } from "./options.ts";
 * assert.equal(exampleValue({ flag: "n", help: "", fallback: 5, parse: integer() }), "5");
 * assert.equal(
 *   exampleValue({ flag: "port", help: "", fallback: undefined, fallbackHelp: "9464", parse: integer() }),
 *   "9464",
 * );
 * ```
 */
export function exampleValue(option: Option<unknown>): string | undefined {
  if (option.secret) return undefined;
  if (option.example !== undefined) return option.example;
  const fallback = typeof option.fallback === "function" ? option.fallback({}) : option.fallback;
  const candidates = [asText(fallback), option.fallbackHelp, option.fallbackHelp?.split(/\s/)[0]];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === "") continue;
    try {
      option.parse(candidate);
      return candidate;
    } catch {
      // not a valid value: try the next
    }
  }
  return undefined;
}

/** How `option` would be set to `value`, the way the bad value was given. */
function setting(option: Option<unknown>, value: string, from: "flag" | "env"): string {
  if (from === "env" && option.env) return `${option.env}=${value}`;
  return option.arg === undefined ? `--${option.flag}=${value}` : `--${option.flag} ${value}`;
}

/**
 * Parses `args` and `env` against an option table. Throws an
 * {@linkcode OptionError} listing every problem found, not only the first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integer, OptionError, parseOptions } from "./options.ts";
 * const table = {
 *   count: { flag: "count", env: "COUNT", arg: "N", help: "events", fallback: 0, parse: integer() },
 * };
 * assert.equal(parseOptions(table, ["--count", "5"], {}).count, 5);
 * assert.throws(() => parseOptions(table, ["--nope"], { COUNT: "x" }), (error: unknown) => {
 *   assert.ok(error instanceof OptionError);
 *   assert.deepEqual(error.problems, [
 *     { text: "Unknown flag --nope (see --help)" },
 *     { text: 'Invalid --count (COUNT): must be an integer, got "x"', example: "COUNT=0" },
 *   ]);
 *   return true;
 * });
 * ```
 */
export function parseOptions<S extends Record<string, Option<unknown>>>(
  options: S,
  args: readonly string[],
  env: Record<string, string | undefined>,
): Values<S> {
  const problems: OptionProblem[] = [];
  const byFlag = new Map<string, string>();
  for (const [key, option] of Object.entries(options)) {
    byFlag.set(option.flag, key);
  }
  const raw: RawValues = {};
  const from: Record<string, "flag" | "env"> = {};
  // An unknown flag's value (`--nope 1`, `-c 5`) is not a problem of its own.
  const skipValue = (i: number) =>
    !args[i]!.includes("=") && args[i + 1] !== undefined && !args[i + 1]!.startsWith("-")
      ? i + 1
      : i;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) {
      problems.push({ text: `Unexpected argument ${JSON.stringify(arg)}` });
      if (arg.startsWith("-")) i = skipValue(i);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const key = byFlag.get(name);
    if (key === undefined) {
      problems.push({ text: `Unknown flag --${name} (see --help)` });
      i = skipValue(i);
      continue;
    }
    const option = options[key]!;
    from[key] = "flag";
    if (eq !== -1) {
      raw[key] = arg.slice(eq + 1);
    } else if (option.arg === undefined) {
      raw[key] = "true";
    } else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) {
        const example = exampleValue(option);
        problems.push({
          text: `Flag --${name} needs a value ${option.arg}`,
          ...(example === undefined ? {} : { example: setting(option, example, "flag") }),
        });
        continue;
      }
      raw[key] = next;
      i++;
    }
  }
  for (const [key, option] of Object.entries(options)) {
    if (raw[key] === undefined && option.env !== undefined) {
      const value = env[option.env];
      if (value !== undefined && value !== "") {
        raw[key] = value;
        from[key] = "env";
      }
    }
  }
  const values: Record<string, unknown> = {};
  const failed = new Set<string>();
  for (const [key, option] of Object.entries(options)) {
    const given = raw[key];
    if (given === undefined) {
      values[key] = typeof option.fallback === "function" ? option.fallback(raw) : option.fallback;
      continue;
    }
    try {
      values[key] = option.parse(given);
    } catch (error) {
      failed.add(key);
      const reason = option.secret
        ? "the value is not valid (not shown: it is a secret)"
        : errorMessage(error);
      const example = exampleValue(option);
      problems.push({
        text: `Invalid ${label(option)}: ${reason}`,
        ...(example === undefined ? {} : { example: setting(option, example, from[key]!) }),
      });
    }
  }
  // Checks compare options with each other: a value that failed above would
  // only make them report a second, misleading problem.
  for (const [key, option] of Object.entries(options)) {
    if (failed.has(key)) continue;
    const problem = option.check?.(values);
    if (problem !== undefined) problems.push({ text: problem });
  }
  if (problems.length > 0) throw new OptionError(problems);
  // The table's keys are exactly the keys filled above.
  return values as Values<S>;
}

/**
 * The default of `option` as `--help` and the configuration reference show
 * it: its `fallbackHelp`, else its default value (`unset` when there is
 * none); empty for a secret, or a default computed without a `fallbackHelp`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultText, integer, optional } from "./options.ts";
 * assert.equal(defaultText({ flag: "port", help: "", fallback: 8080, parse: integer() }), "8080");
 * assert.equal(defaultText({ flag: "ca", help: "", fallback: undefined, parse: optional }), "unset");
 * assert.equal(
 *   defaultText({ flag: "dlq", help: "", fallback: () => "x", fallbackHelp: "<topic>.dlq", parse: optional }),
 *   "<topic>.dlq",
 * );
 * ```
 */
export function defaultText(option: Option<unknown>): string {
  if (option.fallbackHelp !== undefined) return option.fallbackHelp;
  if (typeof option.fallback === "function" || option.secret) return "";
  return option.fallback === undefined ? "unset" : String(option.fallback);
}

/**
 * Formats `--help` text: usage, summary, then one line per option with its
 * environment variable and default.
 */
export function formatHelp(
  usage: string,
  summary: string,
  options: Record<string, Option<unknown>>,
): string {
  const rows = Object.values(options).filter((option) => !option.hidden).map((option) => {
    const left = `--${option.flag}${option.arg ? ` ${option.arg}` : ""}`;
    const fallback = defaultText(option);
    const env = option.env ? `  [${option.env}]` : "";
    const def = fallback === "" ? "" : ` (default: ${fallback})`;
    return { left, right: `${option.help}${def}${env}` };
  });
  rows.push({ left: "--help", right: "Show this help and exit" });
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  const lines = rows.map((row) => `  ${row.left.padEnd(width)}${row.right}`);
  return `${summary}\n\nUsage: ${usage}\n\nOptions:\n${lines.join("\n")}\n`;
}

/**
 * Reads the given environment variables (only those, for narrow grants). A
 * variable not granted counts as unset, without a permission prompt.
 */
export function readEnv(
  names: Iterable<string>,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of names) {
    const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
    env[name] = granted ? Deno.env.get(name) : undefined;
  }
  return env;
}

/** Environment variable names an option table reads. */
export function envNames(
  ...tables: Record<string, Option<unknown>>[]
): string[] {
  const names = new Set<string>();
  for (const table of tables) {
    for (const option of Object.values(table)) {
      if (option.env) names.add(option.env);
    }
  }
  return [...names];
}
