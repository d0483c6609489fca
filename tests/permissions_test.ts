import assert from "node:assert/strict";
import { mergePermissions } from "./support/permissions.ts";

const TASK = [
  "run",
  "--allow-net=127.0.0.1:9092,127.0.0.1:9050",
  "--allow-env=A,B",
  "consumer.ts",
  "--topic",
  "t",
];

Deno.test("mergePermissions() appends to a task's lists without duplicates", () => {
  assert.deepEqual(
    mergePermissions(TASK, ["--allow-net=127.0.0.1:9094,127.0.0.1:9092", "--allow-env=C"]),
    [
      "run",
      "--allow-net=127.0.0.1:9092,127.0.0.1:9050,127.0.0.1:9094",
      "--allow-env=A,B,C",
      "consumer.ts",
      "--topic",
      "t",
    ],
  );
});

Deno.test("mergePermissions() adds new flags before the script, never after", () => {
  assert.deepEqual(mergePermissions(TASK, ["--allow-read=/tmp/ca.pem", "--allow-read=/x"]), [
    "run",
    "--allow-net=127.0.0.1:9092,127.0.0.1:9050",
    "--allow-env=A,B",
    "--allow-read=/tmp/ca.pem,/x",
    "consumer.ts",
    "--topic",
    "t",
  ]);
  assert.deepEqual(mergePermissions(TASK, []), TASK);
});

Deno.test("mergePermissions() widens a list to a full grant and keeps a full grant", () => {
  assert.deepEqual(mergePermissions(TASK, ["--allow-env"])[2], "--allow-env");
  const full = ["run", "--allow-net", "producer.ts"];
  assert.deepEqual(mergePermissions(full, ["--allow-net=127.0.0.1:9094"]), full);
});

Deno.test("mergePermissions() rejects what it cannot merge", () => {
  assert.throws(() => mergePermissions(TASK, ["--deny-net=x"]), {
    message: /^Cannot merge "--deny-net=x": expected --allow-<name>/,
  });
  assert.throws(() => mergePermissions(["task", "x.ts"], []), {
    message: /^Cannot merge permissions: expected 'run \.\.\. <script>'/,
  });
});
