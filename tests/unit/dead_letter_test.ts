import assert from "node:assert/strict";
import {
  DEAD_LETTER_HEADERS,
  deadLetter,
  type SourceMessage,
} from "../../shared/dlq/dead_letter.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

const source: SourceMessage = {
  key: bytes("tony-allen/1"),
  value: bytes("{oops"),
  offset: "7",
  timestamp: "1764012133000",
  headers: { trace: "abc", raw: bytes("x"), count: 3, missing: undefined },
};

Deno.test("deadLetter() keeps the key and value bytes unchanged", () => {
  const letter = deadLetter(source, "plays", 2, { kind: "invalid-json", reason: "bad" });
  assert.equal(letter.key, source.key);
  assert.equal(letter.value, source.value);
  assert.equal(new TextDecoder().decode(letter.value!), "{oops");
});

Deno.test("deadLetter() adds why and where as headers", () => {
  const letter = deadLetter(source, "plays", 2, {
    kind: "invalid-event",
    reason: "Cannot parse event: 'song_id' is missing",
    field: "song_id",
  });
  assert.deepEqual(letter.headers, {
    trace: "abc",
    raw: bytes("x"),
    "error": "Cannot parse event: 'song_id' is missing",
    "error.kind": "invalid-event",
    "error.field": "song_id",
    "source.topic": "plays",
    "source.partition": "2",
    "source.offset": "7",
    "source.timestamp": "1764012133000",
  });
});

Deno.test("deadLetter() leaves out error.field when no field is to blame", () => {
  const letter = deadLetter(source, "plays", 0, {
    kind: "invalid-json",
    reason: "bad",
    field: undefined,
  });
  assert.equal(DEAD_LETTER_HEADERS.field in letter.headers, false);
  assert.equal(letter.headers[DEAD_LETTER_HEADERS.partition], "0");
});

Deno.test("deadLetter() drops header values Kafka cannot carry", () => {
  const letter = deadLetter(source, "plays", 1, { kind: "invalid-json", reason: "bad" });
  assert.equal("count" in letter.headers, false);
  assert.equal("missing" in letter.headers, false);
});

Deno.test("deadLetter() overwrites stale error headers of a re-processed letter", () => {
  const again = deadLetter(
    { ...source, headers: { "error": "old", "error.kind": "invalid-json", "error.field": "x" } },
    "plays",
    1,
    { kind: "rejected-by-bigquery", reason: "new" },
  );
  assert.equal(again.headers.error, "new");
  assert.equal(again.headers["error.kind"], "rejected-by-bigquery");
  assert.equal("error.field" in again.headers, false, "stale error.field kept");
});

Deno.test("deadLetter() copies the headers instead of sharing them", () => {
  const headers: Record<string, unknown> = { trace: "abc" };
  const letter = deadLetter({ ...source, headers }, "plays", 1, {
    kind: "invalid-json",
    reason: "bad",
  });
  assert.equal("error" in headers, false);
  assert.notEqual(letter.headers, headers);
});

Deno.test("deadLetter() handles a message without key, value or headers", () => {
  const letter = deadLetter(
    { key: null, value: null, offset: "0", timestamp: "0" },
    "plays",
    0,
    { kind: "invalid-json", reason: "Cannot parse event: the message is empty" },
  );
  assert.equal(letter.key, null);
  assert.equal(letter.value, null);
  assert.equal(letter.headers.error, "Cannot parse event: the message is empty");
});
