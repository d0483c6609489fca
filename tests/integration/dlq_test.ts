// Integration tests of dlq.ts against the real local broker (and the
// consumer, to fill a dead-letter topic). Each test uses its own topics.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import type { DlqReport } from "../../shared/dlq/report.ts";
import type { ReplayReport } from "../../shared/dlq/replay.ts";
import { createKafka, ensureTopic, openPublisher } from "../../shared/kafka/mod.ts";
import {
  consumerArgs,
  goodEvent,
  produceRaw,
  readTopic,
  runScript,
  uniqueName,
} from "../support/harness.ts";

function names() {
  const id = uniqueName("d");
  return { topic: `dlq_${id}`, group: `group_${id}`, table: `dlq_${id}` };
}

const decoder = new TextDecoder();

async function replay(topic: string, extra: string[]): Promise<ReplayReport> {
  const result = await runScript("dlq", ["--topic", topic, "--replay", "--json", ...extra]);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  return JSON.parse(result.stdout);
}

function total(report: ReplayReport): number {
  return Object.values(report.published).reduce((a, b) => a + b, 0);
}

test("dlq lists letters grouped by reason, replays each exactly once (--kind, --dry-run, twice)", async () => {
  const n = names();
  const poison = [
    "{not json",
    "[1,2,3]",
    JSON.stringify(goodEvent({ song_id: "x" })),
    JSON.stringify(goodEvent({ song_id: "y" })),
    JSON.stringify(goodEvent({ timestamp: "yesterday" })),
  ];
  const good = Array.from({ length: 10 }, () => JSON.stringify(goodEvent()));
  await produceRaw(n.topic, [...good.slice(0, 5), ...poison, ...good.slice(5)]);
  const consumed = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);

  // Listing: grouped by kind and normalized reason, most frequent first.
  const listed = await runScript("dlq", ["--topic", n.topic, "--json", "--limit", "1"]);
  assert.equal(listed.code, 0, listed.stderr);
  const report: DlqReport = JSON.parse(listed.stdout);
  assert.equal(report.topic, `${n.topic}.dlq`);
  assert.equal(report.total, 5);
  assert.deepEqual(report.groups.map((g) => [g.count, g.kind, g.reason]), [
    [2, "invalid-event", "Cannot parse event: 'song_id' must be an integer, got …"],
    [
      1,
      "invalid-event",
      `Cannot parse event: 'timestamp' must be an ISO-8601 time like "2022-11-03T07:22:13Z", got …`,
    ],
    [1, "invalid-json", "Cannot parse event: expected a JSON object, got …"],
    [1, "invalid-json", "Cannot parse event: the message is not valid JSON (…)"],
  ]);
  const example = report.groups[0]!.examples[0]!;
  assert.equal(report.groups[0]!.examples.length, 1, "--limit 1");
  assert.match(example.source ?? "", new RegExp(`^${n.topic}\\[[0-2]\\]@\\d+$`));
  assert.equal(example.field, "song_id");
  assert.ok(poison.some((p) => p.startsWith(example.value.replace(/…$/, ""))));

  const text = await runScript("dlq", ["--topic", n.topic]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^${n.topic}\\.dlq: 5 dead letters in 4 groups$`, "m"));
  assert.match(text.stdout, /^2 {2}invalid-event {2}Cannot parse event: 'song_id' must be/m);
  assert.match(text.stdout, /\{not json/);

  // Replay into a fresh topic: dry run, one kind, the rest, then nothing.
  const target = `${n.topic}_replayed`;
  await produceRaw(target, [], 1);
  const dry = await replay(n.topic, ["--to", target, "--dry-run"]);
  assert.deepEqual([dry.dryRun, dry.published], [true, { [target]: 5 }]);
  assert.equal((await readTopic(target)).length, 0, "a dry run publishes nothing");

  const json = await replay(n.topic, ["--to", target, "--kind", "invalid-json"]);
  assert.deepEqual(
    [json.group, json.published, json.otherKinds],
    [`${n.topic}.dlq.replay.invalid-json`, { [target]: 2 }, 3],
  );
  const rest = await replay(n.topic, ["--to", target]);
  assert.deepEqual(
    [rest.group, rest.published, rest.alreadyReplayed],
    [`${n.topic}.dlq.replay`, { [target]: 3 }, 2],
  );
  const again = await replay(n.topic, ["--to", target]);
  assert.equal(total(again), 0, "a second replay re-publishes nothing");
  assert.equal(again.read, 0);
  const kindAgain = await replay(n.topic, ["--to", target, "--kind", "invalid-event"]);
  assert.equal(total(kindAgain), 0, "nor does a --kind replay after a full one");

  const replayed = await readTopic(target);
  assert.deepEqual(
    replayed.map((m) => decoder.decode(m.value!)).sort(),
    [...poison].sort(),
    "exactly the original bytes, once each",
  );
  for (const message of replayed) {
    assert.match(
      message.headers["replayed.from"] ?? "",
      new RegExp(`^${n.topic}\\.dlq\\[0\\]@[0-4]$`),
    );
    for (const ours of ["error", "error.kind", "source.topic", "source.offset"]) {
      assert.equal(message.headers[ours], undefined, `no ${ours} header`);
    }
  }
});

test("dlq --replay sends letters back to their source.topic by default", async () => {
  const n = names();
  await produceRaw(n.topic, ["{oops", JSON.stringify(goodEvent())], 1);
  const consumed = await runScript("consume", consumerArgs(n, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);
  const result = await runScript("dlq", ["--topic", n.topic, "--replay"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    new RegExp(
      `^Replayed 1 dead letter from ${n.topic}\\.dlq \\(group ${n.topic}\\.dlq\\.replay\\)$`,
      "m",
    ),
  );
  const source = await readTopic(n.topic);
  assert.equal(source.length, 3);
  const last = source.find((m) => m.offset === "2")!;
  assert.equal(decoder.decode(last.value!), "{oops");
  assert.equal(last.headers["replayed.from"], `${n.topic}.dlq[0]@0`);
});

test("dlq reports an empty or missing dead-letter topic and rejects bad flags", async () => {
  const missing = await runScript("dlq", ["--topic", uniqueName("none")]);
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(missing.stdout, /: no dead letters$/m);
  const nothing = await runScript("dlq", ["--topic", uniqueName("none"), "--replay", "--json"]);
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.equal(total(JSON.parse(nothing.stdout)), 0);
  const bad = await runScript("dlq", ["--kind", "Bad Kind", "--replay"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Invalid --kind: must be an error kind like invalid-json/);
  const help = await runScript("dlq", ["--help"]);
  assert.equal(help.code, 0);
  for (const word of ["--replay", "--dry-run", "--kind", "--to", "--json", "--limit", "event_id"]) {
    assert.ok(help.stdout.includes(word), `help mentions ${word}`);
  }
});

test("dlq --replay stops at a letter without source.topic, committing only what it published", async () => {
  const topic = uniqueName("foreign");
  const target = `${topic}_fixed`;
  await produceRaw(`${topic}.dlq`, ["no headers at all"], 1);
  await produceRaw(target, [], 1);
  const stopped = await runScript("dlq", ["--topic", topic, "--replay"]);
  assert.equal(stopped.code, 1, stopped.stderr);
  assert.match(
    stopped.stdout,
    new RegExp(
      `stopped early: Cannot replay ${topic}\\.dlq\\[0\\]@0: it has no source\\.topic header \\(name a topic with --to\\)`,
    ),
  );
  const fixed = await replay(topic, ["--to", target]);
  assert.deepEqual(fixed.published, { [target]: 1 });
  const [message] = await readTopic(target);
  assert.equal(decoder.decode(message?.value ?? undefined), "no headers at all");
});

test("dlq --replay never follows a letter's source.topic header to another topic", async () => {
  const topic = uniqueName("steer");
  const elsewhere = `${topic}_elsewhere`;
  await produceRaw(elsewhere, [], 1);
  await produceRaw(topic, [], 1);
  const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "dlq-steer-test" });
  const publisher = await openPublisher(kafka);
  try {
    await ensureTopic(kafka, `${topic}.dlq`, 1);
    await publisher.send(`${topic}.dlq`, [{
      key: null,
      value: "forged letter",
      headers: { "error.kind": "invalid-json", "source.topic": elsewhere },
    }]);
  } finally {
    await publisher.close();
  }
  const stopped = await runScript("dlq", ["--topic", topic, "--replay"]);
  assert.equal(stopped.code, 1, stopped.stderr);
  assert.match(
    stopped.stdout,
    new RegExp(
      `stopped early: Cannot replay ${topic}\\.dlq\\[0\\]@0: its source\\.topic is "${elsewhere}", not the configured topic ${topic}`,
    ),
  );
  assert.deepEqual(await readTopic(elsewhere), [], "nothing reached the header's topic");
  assert.deepEqual(await readTopic(topic), []);
  const sent = await replay(topic, ["--to", topic]);
  assert.deepEqual(sent.published, { [topic]: 1 });
  assert.deepEqual(await readTopic(elsewhere), []);
  assert.equal(decoder.decode((await readTopic(topic))[0]?.value ?? undefined), "forged letter");
});
