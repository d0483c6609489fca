// A dead letter larger than its topic takes: the broker would refuse it for
// good (MESSAGE_TOO_LARGE) and the consumer would stop on it at every start.
// Against the real broker, with a dead-letter topic made small on purpose.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { createKafka, ensureTopic } from "../../shared/kafka/mod.ts";
import {
  consumerArgs,
  goodEvent,
  pipelineNames,
  produceRaw,
  readTopic,
  rowCounts,
  runScript,
} from "../support/harness.ts";

const DLQ_LIMIT = 4_096;

test("a dead letter larger than the DLQ topic takes is cut to fit, with its size; nothing stops; replay leaves it", async () => {
  const n = pipelineNames("dlqsize");
  const dlqTopic = `${n.topic}.dlq`;
  const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" });
  await ensureTopic(kafka, dlqTopic, 1, { "max.message.bytes": String(DLQ_LIMIT) });
  // Not JSON, 20 kB: fits the source topic, not the dead-letter topic.
  const poison = `{"oops": "${"x".repeat(20_000)}`;
  const good = Array.from({ length: 50 }, () => goodEvent());
  await produceRaw(
    n.topic,
    [...good.slice(0, 25), poison, ...good.slice(25)].map((value) =>
      typeof value === "string" ? value : JSON.stringify(value)
    ),
  );

  const consumed = await runScript(
    "consume",
    consumerArgs(n, ["--exit-when-idle", "2", "--dlq-topic", dlqTopic]),
  );
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(await rowCounts(n.table), { rows: 50, distinct: 50 });

  const [letter, ...more] = await readTopic(dlqTopic);
  assert.ok(letter, "the letter is in the dead-letter topic");
  assert.equal(more.length, 0);
  assert.equal(letter.headers["error.kind"], "invalid-json");
  assert.equal(letter.headers["original.truncated"], "true");
  assert.equal(letter.headers["original.size"], String(new TextEncoder().encode(poison).length));
  const kept = new TextDecoder().decode(letter.value!);
  assert.ok(kept.length > 0 && kept.length < DLQ_LIMIT && poison.startsWith(kept), "a prefix");
  // The source coordinates point at the whole original.
  const source = await readTopic(n.topic);
  const original = source.find((m) =>
    m.partition === Number(letter.headers["source.partition"]) &&
    m.offset === letter.headers["source.offset"]
  );
  assert.equal(new TextDecoder().decode(original?.value ?? new Uint8Array()), poison);

  // A replay does not send the cut bytes on as if they were the event.
  const replay = await runScript("dlq", ["--topic", n.topic, "--replay", "--json"]);
  assert.equal(replay.code, 0, replay.stderr + replay.stdout);
  const report = JSON.parse(replay.stdout);
  assert.deepEqual(report.published, {});
  assert.deepEqual(report.truncated, [
    `${n.topic}[${letter.headers["source.partition"]}]@${letter.headers["source.offset"]}`,
  ]);
  assert.equal((await readTopic(n.topic)).length, 51, "nothing re-published");
});
