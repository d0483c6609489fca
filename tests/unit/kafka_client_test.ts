// The Kafka client's log bridge: which broker answers a normal start logs quietly.

import assert from "node:assert/strict";
import { isExpectedResponseError } from "../../shared/kafka/client.ts";

/** A run of `deno task`: its exit code, output and duration. */
interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

Deno.test("isExpectedResponseError() quiets only the broker's answers of a normal start", () => {
  for (
    const error of [
      "Topic creation errors",
      "The group coordinator is not available",
      "There is no leader for this topic-partition as we are in the middle of a leadership election",
    ]
  ) {
    assert.equal(
      isExpectedResponseError("Response CreateTopics(key: 19, version: 3)", error),
      true,
    );
  }
  assert.equal(
    isExpectedResponseError("Response Produce(key: 0, version: 7)", "Broker: timeout"),
    false,
  );
  assert.equal(
    isExpectedResponseError("Failed to connect to seed broker", "Topic creation errors"),
    false,
  );
});
