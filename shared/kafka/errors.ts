/**
 * Which Kafka client errors are worth retrying. Callers classify errors
 * with these instead of looking at the client's error classes.
 *
 * @module
 */

const PERMANENT = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
]);

/**
 * Whether `error` comes from the Kafka client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isKafkaError } from "./errors.ts";
 * const error = Object.assign(new Error("Connection error"), { name: "KafkaJSConnectionError" });
 * assert.equal(isKafkaError(error), true);
 * assert.equal(isKafkaError(new Error("insert failed")), false);
 * ```
 */
export function isKafkaError(error: unknown): boolean {
  return error instanceof Error && error.name.startsWith("KafkaJS");
}

/**
 * Whether a Kafka client error is worth retrying: everything but errors that
 * would fail the same way again (too large, not allowed, invalid). Exhausted
 * client retries (a broker down for a while) are worth retrying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTransientKafkaError } from "./errors.ts";
 * assert.equal(isTransientKafkaError({ type: "MESSAGE_TOO_LARGE" }), false);
 * assert.equal(isTransientKafkaError({ cause: { type: "LEADER_NOT_AVAILABLE" } }), true);
 * ```
 */
export function isTransientKafkaError(error: unknown): boolean {
  for (let current = error, depth = 0; depth < 5; depth++) {
    if (typeof current !== "object" || current === null) return true;
    if ("type" in current && typeof current.type === "string" && PERMANENT.has(current.type)) {
      return false;
    }
    current = "originalError" in current
      ? current.originalError
      : "cause" in current
      ? current.cause
      : undefined;
  }
  return true;
}
