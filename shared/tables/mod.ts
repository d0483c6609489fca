/**
 * The option table of each entry script, by the script's file name. Every
 * module here and below imports only option declarations, never a library:
 * the launcher (`shared/launch/`) and the configuration reference read them
 * without running any third-party code, and the entry scripts parse their
 * command line with the same tables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCRIPT_TABLES } from "./mod.ts";
 * assert.deepEqual(Object.keys(SCRIPT_TABLES), ["producer.ts", "consumer.ts", "dashboard.ts", "dlq.ts"]);
 * assert.equal(SCRIPT_TABLES["producer.ts"]?.brokers.flag, "brokers");
 * ```
 *
 * @module
 */

import type { Option } from "../cli/options.ts";
import { consumerOptions } from "./consumer.ts";
import { dashboardOptions } from "./dashboard.ts";
import { dlqOptions } from "./dlq.ts";
import { producerOptions } from "./producer.ts";

export { consumerOptions, dashboardOptions, dlqOptions, producerOptions };

/** Each entry script's option table, by its path relative to the project's root. */
export const SCRIPT_TABLES: Readonly<
  Record<string, Readonly<Record<string, Option<unknown>>> & { brokers: Option<unknown> }>
> = {
  "producer.ts": producerOptions,
  "consumer.ts": consumerOptions,
  "dashboard.ts": dashboardOptions,
  "dlq.ts": dlqOptions,
};
