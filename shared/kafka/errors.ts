/**
 * Which Kafka client errors are worth retrying. Callers classify errors
 * with these instead of looking at the client's error classes.
 *
 * @module
 */

const PERMANENT = new Set([
  // kafkajs retries a topic it does not find for its whole retry budget
  // (about 45 s: long enough for a topic being created); after that, and
  // after the publisher saw it missing, the topic is gone, not late.
  "UNKNOWN_TOPIC_OR_PARTITION",
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
]);

/** A topic that does not exist (and that nothing here creates on the fly). */
export class KafkaTopicNotFoundError extends Error {
  /** The broker's name for it, as on the client's protocol errors. */
  readonly type = "UNKNOWN_TOPIC_OR_PARTITION";
  constructor(readonly topic: string) {
    super(`Cannot send to ${topic}: the topic does not exist`);
    this.name = "KafkaTopicNotFoundError";
  }
}

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
  return error instanceof KafkaTopicNotFoundError ||
    (error instanceof Error && error.name.startsWith("KafkaJS"));
}

/** The errors `error` wraps (kafkajs' `originalError` or `cause`), itself first. */
function* causes(error: unknown): Generator<object> {
  for (let current = error, depth = 0; depth < 5; depth++) {
    if (typeof current !== "object" || current === null) return;
    yield current;
    current = "originalError" in current
      ? current.originalError
      : "cause" in current
      ? current.cause
      : undefined;
  }
}

/**
 * The broker's error name (`MESSAGE_TOO_LARGE`, ...) found in `error` or
 * what it wraps; undefined for errors without one (connection trouble).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kafkaErrorType } from "./errors.ts";
 * assert.equal(kafkaErrorType({ cause: { type: "MESSAGE_TOO_LARGE" } }), "MESSAGE_TOO_LARGE");
 * assert.equal(kafkaErrorType(new Error("Connection error")), undefined);
 * ```
 */
export function kafkaErrorType(error: unknown): string | undefined {
  for (const current of causes(error)) {
    if ("type" in current && typeof current.type === "string") return current.type;
  }
  return undefined;
}

const MEMBERSHIP = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID",
]);

/**
 * Whether a group request failed because this member's place in the group
 * changed (a rebalance, or the group moved on without it): what it owned
 * may be someone else's now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMembershipError } from "./errors.ts";
 * assert.equal(isMembershipError({ type: "UNKNOWN_MEMBER_ID" }), true);
 * assert.equal(isMembershipError({ type: "LEADER_NOT_AVAILABLE" }), false);
 * ```
 */
export function isMembershipError(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type !== undefined && MEMBERSHIP.has(type);
}

/**
 * Whether a Kafka client error is worth retrying: everything but errors that
 * would fail the same way again (too large, not allowed, invalid, no such
 * topic). Exhausted client retries (a broker down for a while) are worth
 * retrying, and so are the idempotent producer's sequence errors
 * (`OUT_OF_ORDER_SEQUENCE_NUMBER`, `UNKNOWN_PRODUCER_ID`): after one the
 * publisher replaces its producer.
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
  for (const current of causes(error)) {
    if ("type" in current && typeof current.type === "string" && PERMANENT.has(current.type)) {
      return false;
    }
  }
  return true;
}
