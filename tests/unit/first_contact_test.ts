// First contact, the way a user makes it: `deno task …` with a documented
// variable set, run in the repository as a shell would. The tasks compute
// their grants from the configuration (shared/cli/launch.ts), fail fast and
// clearly on an address that does not answer, and start without an ERROR or
// WARNING line. Against the local services of `deno task up`.

import assert from "node:assert/strict";
import { isExpectedResponseError } from "../../shared/kafka/mod.ts";

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
