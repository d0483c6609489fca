import assert from "node:assert/strict";
import {
  emptyReplayReport,
  formatReplayReport,
  letterKind,
  REPLAYED_FROM,
  replayGroup,
  replayMessage,
  replayTarget,
} from "../../shared/dlq/replay.ts";
import type { DeadLetterRecord } from "../../shared/dlq/report.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

function letter(headers: Record<string, string>): DeadLetterRecord {
  return {
    partition: 1,
    offset: "17",
    key: bytes("tony-allen/3"),
    value: new Uint8Array([0xff, 0x00, 0x7b]),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, bytes(v)])),
  };
}

const DLQ_HEADERS = {
  error: "Cannot parse event: bad",
  "error.kind": "invalid-json",
  "error.field": "song_id",
  "source.topic": "plays",
  "source.partition": "2",
  "source.offset": "40",
  "source.timestamp": "1764012133000",
};

Deno.test("replayMessage() keeps key, bytes and foreign headers, drops ours, adds replayed.from", () => {
  const record = letter({ traceparent: "00-abc-01", ...DLQ_HEADERS, [REPLAYED_FROM]: "old[0]@1" });
  const message = replayMessage(record, "plays.dlq");
  assert.equal(message.key, record.key);
  assert.equal(message.value, record.value, "the very same bytes");
  assert.deepEqual(Object.keys(message.headers).sort(), ["replayed.from", "traceparent"]);
  assert.equal(message.headers.traceparent, record.headers.traceparent);
  assert.equal(message.headers[REPLAYED_FROM], "plays.dlq[1]@17");
});

Deno.test("replayTarget() prefers --to, else the configured topic, never another header's", () => {
  assert.equal(replayTarget(letter(DLQ_HEADERS), { topic: "plays" }), "plays");
  assert.equal(replayTarget(letter(DLQ_HEADERS), { topic: "plays", to: "fixed" }), "fixed");
  assert.throws(() => replayTarget(letter({}), { topic: "plays" }), /no source\.topic header/);
  assert.throws(
    () => replayTarget(letter(DLQ_HEADERS), { topic: "other" }),
    /its source\.topic is "plays", not the configured topic other/,
  );
  assert.equal(replayTarget(letter({}), { topic: "plays", to: "fixed" }), "fixed");
});

Deno.test("letterKind() and replayGroup() name the progress groups", () => {
  assert.equal(letterKind(letter(DLQ_HEADERS)), "invalid-json");
  assert.equal(letterKind(letter({})), "unknown");
  assert.equal(replayGroup("plays.dlq"), "plays.dlq.replay");
  assert.equal(
    replayGroup("plays.dlq", "rejected-by-bigquery"),
    "plays.dlq.replay.rejected-by-bigquery",
  );
});

Deno.test("formatReplayReport() reports counts per target topic and what was skipped", () => {
  const report = emptyReplayReport({ dlqTopic: "plays.dlq", dryRun: false });
  report.read = 6;
  report.published = { plays: 3, "plays-v2": 1 };
  report.alreadyReplayed = 2;
  assert.equal(
    formatReplayReport(report),
    [
      "Replayed 4 dead letters from plays.dlq (group plays.dlq.replay)",
      "  → plays     3",
      "  → plays-v2  1",
      "  skipped: 2 replayed before with --kind",
      "",
    ].join("\n"),
  );
  const again = emptyReplayReport({ dlqTopic: "plays.dlq", kind: "invalid-json", dryRun: true });
  assert.equal(
    formatReplayReport(again),
    [
      "Would replay 0 invalid-json dead letters from plays.dlq (group plays.dlq.replay.invalid-json)",
      "  nothing to replay (none new since the last replay)",
      "  dry run: nothing published, no progress recorded",
      "",
    ].join("\n"),
  );
  const stopped = { ...emptyReplayReport({ dlqTopic: "d", dryRun: false }), read: 1 };
  stopped.otherKinds = 1;
  stopped.error = "Cannot replay d[0]@0: it has no source.topic header\u001b[2J";
  assert.match(formatReplayReport(stopped), /skipped: 1 of other kinds \(left for later\)/);
  assert.match(formatReplayReport(stopped), /stopped early: .*header\\u\{1b\}\[2J$/m);
});
