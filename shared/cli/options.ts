/**
 * Declarative command-line options: each option is declared once (flag,
 * environment variable, default, parser, description) and the same
 * declaration drives parsing, validation and `--help`.
 *
 * Precedence: flag, then environment variable, then default.
 *
 * @module
 */

import { errorMessage } from "./error_message.ts";

/** A bad flag or variable; the message names it and says what was expected. */
export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionError";
  }
}

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
  /** A secret (e.g. a password): its value never appears in errors or help. */
  secret?: boolean;
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

/** A slug: lowercase words of letters and digits joined by single dashes (`tony-allen`). */
export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** A Kafka topic name: 1 to 249 letters, digits, `.`, `_` or `-`. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
/** A BigQuery dataset, table or view name: a letter or `_`, then letters, digits, `_`. */
export const BIGQUERY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/;

/**
 * Parses an artist slug such as `tony-allen`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { artistSlug } from "./options.ts";
 * assert.equal(artistSlug("tony-allen"), "tony-allen");
 * assert.throws(() => artistSlug("Tony Allen"), /must be an artist slug like tony-allen/);
 * ```
 */
export const artistSlug: (raw: string) => string = text(SLUG, "an artist slug like tony-allen");

/**
 * Parses a Kafka topic name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicName } from "./options.ts";
 * assert.equal(topicName("plays.dlq"), "plays.dlq");
 * assert.throws(() => topicName("plays/dlq"), /must be a Kafka topic name/);
 * ```
 */
export const topicName: (raw: string) => string = text(
  TOPIC_NAME,
  "a Kafka topic name ([A-Za-z0-9._-], up to 249)",
);

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

/** Name of an option in messages: `--flag` or `--flag/ENV`. */
function label(option: Option<unknown>): string {
  return option.env ? `--${option.flag} (${option.env})` : `--${option.flag}`;
}

/**
 * Parses `args` and `env` against an option table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integer, parseOptions } from "./options.ts";
 * const values = parseOptions({
 *   count: { flag: "count", env: "COUNT", arg: "N", help: "events", fallback: 0, parse: integer() },
 * }, ["--count", "5"], {});
 * assert.equal(values.count, 5);
 * ```
 */
export function parseOptions<S extends Record<string, Option<unknown>>>(
  options: S,
  args: readonly string[],
  env: Record<string, string | undefined>,
): Values<S> {
  const byFlag = new Map<string, string>();
  for (const [key, option] of Object.entries(options)) {
    byFlag.set(option.flag, key);
  }
  const raw: RawValues = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) {
      throw new OptionError(`Unexpected argument ${JSON.stringify(arg)}`);
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const key = byFlag.get(name);
    if (key === undefined) {
      throw new OptionError(`Unknown flag --${name} (see --help)`);
    }
    const option = options[key]!;
    if (eq !== -1) {
      raw[key] = arg.slice(eq + 1);
    } else if (option.arg === undefined) {
      raw[key] = "true";
    } else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new OptionError(`Flag --${name} needs a value ${option.arg}`);
      }
      raw[key] = next;
      i++;
    }
  }
  for (const [key, option] of Object.entries(options)) {
    if (raw[key] === undefined && option.env !== undefined) {
      const value = env[option.env];
      if (value !== undefined && value !== "") raw[key] = value;
    }
  }
  const values: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(options)) {
    const given = raw[key];
    if (given === undefined) {
      values[key] = typeof option.fallback === "function" ? option.fallback(raw) : option.fallback;
      continue;
    }
    try {
      values[key] = option.parse(given);
    } catch (error) {
      const reason = option.secret
        ? "the value is not valid (not shown: it is a secret)"
        : errorMessage(error);
      throw new OptionError(`Invalid ${label(option)}: ${reason}`);
    }
  }
  for (const option of Object.values(options)) {
    const problem = option.check?.(values);
    if (problem !== undefined) throw new OptionError(problem);
  }
  // The table's keys are exactly the keys filled above.
  return values as Values<S>;
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
  const rows = Object.values(options).map((option) => {
    const left = `--${option.flag}${option.arg ? ` ${option.arg}` : ""}`;
    const fallback = option.fallbackHelp ??
      (typeof option.fallback === "function" || option.secret
        ? ""
        : option.fallback === undefined
        ? "unset"
        : String(option.fallback));
    const env = option.env ? `  [${option.env}]` : "";
    const def = fallback === "" ? "" : ` (default: ${fallback})`;
    return { left, right: `${option.help}${def}${env}` };
  });
  rows.push({ left: "--help", right: "Show this help and exit" });
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  const lines = rows.map((row) => `  ${row.left.padEnd(width)}${row.right}`);
  return `${summary}\n\nUsage: ${usage}\n\nOptions:\n${lines.join("\n")}\n`;
}

/** Reads the given environment variables (only those, for narrow grants). */
export function readEnv(
  names: Iterable<string>,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of names) {
    try {
      env[name] = Deno.env.get(name);
    } catch {
      env[name] = undefined; // not granted: treated as unset
    }
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
