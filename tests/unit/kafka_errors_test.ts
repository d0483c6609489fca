import assert from "node:assert/strict";

import "../support/lenient_env.ts";
const { isTransientKafkaError } = await import("../../shared/kafka/errors.ts");
const {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} = await kafkajsErrors();

/** The error classes, from the CommonJS module object (not detected as named exports). */
async function kafkajsErrors() {
  const module = await import("kafkajs");
  return (module as unknown as { default: typeof module }).default;
}

/** A protocol error as kafkajs builds it from a broker error code. */
function protocolError(type: string, code: number, retriable: boolean): Error {
  return new KafkaJSProtocolError(
    Object.assign(new Error(`broker said ${type}`), { type, code, retriable }),
  );
}

// What kafkajs' retrier throws: the error wrapped, with `cause` set.
const NonRetriable = KafkaJSNonRetriableError as unknown as new (
  e: Error,
  metadata: { cause: Error },
) => Error;

Deno.test("isTransientKafkaError() does not retry errors that would fail again", () => {
  for (
    const [type, code] of [
      ["UNKNOWN_TOPIC_OR_PARTITION", 3],
      ["MESSAGE_TOO_LARGE", 10],
      ["RECORD_LIST_TOO_LARGE", 18],
      ["INVALID_RECORD", 87],
      ["INVALID_TOPIC_EXCEPTION", 17],
      ["TOPIC_AUTHORIZATION_FAILED", 29],
      ["CLUSTER_AUTHORIZATION_FAILED", 31],
      ["SASL_AUTHENTICATION_FAILED", 58],
    ] as const
  ) {
    assert.equal(isTransientKafkaError(protocolError(type, code, false)), false, type);
  }
});

Deno.test("isTransientKafkaError() finds a permanent error wrapped by the retrier", () => {
  const cause = protocolError("MESSAGE_TOO_LARGE", 10, false);
  const wrapped = new NonRetriable(cause, { cause });
  assert.equal(isTransientKafkaError(wrapped), false);
  // Also behind an originalError and a further level of wrapping.
  assert.equal(isTransientKafkaError({ originalError: { cause } }), false);
});

Deno.test("isTransientKafkaError() retries broker and connection trouble", () => {
  const cases: unknown[] = [
    protocolError("LEADER_NOT_AVAILABLE", 5, true),
    protocolError("NOT_LEADER_FOR_PARTITION", 6, true),
    protocolError("REQUEST_TIMED_OUT", 7, true),
    protocolError("NOT_ENOUGH_REPLICAS", 19, true),
    // The idempotent producer's own state: a new producer (id) fixes these.
    protocolError("OUT_OF_ORDER_SEQUENCE_NUMBER", 45, false),
    protocolError("UNKNOWN_PRODUCER_ID", 59, false),
    new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9092"),
    new KafkaJSRequestTimeoutError("Request Produce(key: 0, version: 7) timed out"),
    new KafkaJSError("There is no leader for this topic-partition"),
    new Error("something else"),
    "a string",
    null,
    undefined,
  ];
  for (const error of cases) assert.equal(isTransientKafkaError(error), true, String(error));
});

Deno.test("isTransientKafkaError() retries when the client ran out of retries", () => {
  const cause = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9092");
  const exhausted = new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 12, retryTime: 5_000 });
  assert.equal(isTransientKafkaError(exhausted), true);
});

Deno.test("isTransientKafkaError() stops following a cycle of causes", () => {
  const a: Record<string, unknown> = {};
  const b: Record<string, unknown> = { cause: a };
  a.cause = b;
  assert.equal(isTransientKafkaError(a), true);
});
