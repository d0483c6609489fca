/**
 * How a script reads its command line: declarative options (each declared
 * once, with its flag, environment variable, default, parser and help) that
 * drive parsing, validation, error messages and `--help`; durations; and the
 * script's shutdown signal and deadlines. Each stage's `options.ts`
 * declares its options with it; the launcher (`shared/launch/`) reads the
 * same declarations to plan a script's grants.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integer, parseOptions } from "./mod.ts";
 * const table = {
 *   count: { flag: "count", env: "COUNT", arg: "N", help: "events", fallback: 0, parse: integer() },
 * };
 * assert.equal(parseOptions(table, ["--count", "5"], {}).count, 5);
 * assert.equal(parseOptions(table, [], { COUNT: "7" }).count, 7);
 * ```
 *
 * @module
 */

export { formatDuration, parseDuration } from "./duration.ts";
export {
  boolean,
  decimal,
  envNames,
  formatHelp,
  formatOptionError,
  type Grant,
  integer,
  type Option,
  optional,
  OptionError,
  type OptionProblem,
  parseOptions,
  type RawValues,
  readEnv,
  text,
  type Values,
} from "./options.ts";
export { deadlineAfter, parseArgsOrExit, type ScriptInfo, shutdownSignal } from "./script.ts";
