import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  checkEventTime,
  CORE_FIELDS,
  decodeEvent,
  decodeEventFields,
  decodeEventText,
  deriveEventId,
  encodeEvent,
  EventError,
  type EventSource,
  MAX_SONG_NAME_LENGTH,
  normalizeTimestamp,
  parseEvent,
  passThroughFields,
  type SongCompleted,
} from "../../shared/event.ts";
import { fixedIntegers } from "../support/seed.ts";

const ID = "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a";
const SOURCE: EventSource = { topic: "tony-allen-plays", partition: 2, offset: "41" };
const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function valid(): Record<string, unknown> {
  return {
    event_id: ID,
    user_id: 7,
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: "2026-11-24T19:22:13.000Z",
  };
}

function tutorial(): Record<string, unknown> {
  const { event_id: _, ...rest } = valid();
  return { ...rest, timestamp: "2022-11-03 07:22:13" };
}

/** Asserts that parsing `input` fails on `field` with exactly `message`. */
function assertRejects(input: unknown, field: string | undefined, message: string): void {
  assert.throws(() => parseEvent(input, SOURCE), (error: unknown) => {
    assert.ok(error instanceof EventError);
    assert.equal(error.name, "EventError");
    assert.equal(error.field, field);
    assert.equal(error.message, `Cannot parse event: ${message}`);
    return true;
  });
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

Deno.test("parseEvent() accepts a livecharts event unchanged", () => {
  const event = parseEvent(valid());
  assert.deepEqual(event, valid());
});

Deno.test("parseEvent() lower-cases an upper-case event_id", () => {
  assert.equal(parseEvent({ ...valid(), event_id: ID.toUpperCase() }).event_id, ID);
});

Deno.test("parseEvent() reads only the core fields; passThroughFields() keeps the others", () => {
  const input = { ...valid(), country: "NG", nested: { a: 1 } };
  const event = parseEvent(input);
  assert.deepEqual(Object.keys(event).sort(), Object.keys(valid()).sort());
  assert.equal("country" in event, false);
  assert.deepEqual(passThroughFields(input), { country: "NG", nested: { a: 1 } });
  assert.deepEqual([...CORE_FIELDS].sort(), Object.keys(valid()).sort());
});

Deno.test("decodeEventFields() keeps a pass-through field of any type, unvalidated", () => {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ ...valid(), duration_ms: "long", tags: ["a"], skipped: null }),
  );
  const { event, fields } = decodeEventFields(bytes);
  assert.equal(event.user_id, valid().user_id);
  assert.deepEqual(fields, { duration_ms: "long", tags: ["a"], skipped: null });
});

for (
  const field of ["event_type", "user_id", "artist", "song_id", "song_name", "timestamp"]
) {
  Deno.test(`parseEvent() rejects a missing ${field}`, () => {
    const input = valid();
    delete input[field];
    assertRejects(input, field, `'${field}' is missing`);
  });
}

Deno.test("parseEvent() rejects a missing event_id when no source is given", () => {
  const { event_id: _, ...input } = valid();
  assert.throws(() => parseEvent(input), {
    name: "EventError",
    message: "Cannot parse event: 'event_id' is missing",
  });
});

Deno.test("parseEvent() rejects a song_id that is not an integer", () => {
  assertRejects({ ...valid(), song_id: "x" }, "song_id", `'song_id' must be an integer, got "x"`);
  assertRejects({ ...valid(), song_id: 1.5 }, "song_id", "'song_id' must be an integer, got 1.5");
  assertRejects({ ...valid(), song_id: "3" }, "song_id", `'song_id' must be an integer, got "3"`);
  assertRejects({ ...valid(), song_id: true }, "song_id", "'song_id' must be an integer, got true");
  assertRejects({ ...valid(), song_id: null }, "song_id", "'song_id' must be an integer, got null");
  assertRejects(
    { ...valid(), song_id: [3] },
    "song_id",
    "'song_id' must be an integer, got an array",
  );
});

Deno.test("parseEvent() rejects a user_id beyond the safe integer range", () => {
  assertRejects(
    { ...valid(), user_id: 2 ** 53 },
    "user_id",
    `'user_id' must be an integer, got ${2 ** 53}`,
  );
});

Deno.test("parseEvent() rejects negative ids", () => {
  assertRejects({ ...valid(), song_id: -1 }, "song_id", "'song_id' must not be negative, got -1");
  assertRejects({ ...valid(), user_id: -7 }, "user_id", "'user_id' must not be negative, got -7");
});

Deno.test("parseEvent() accepts zero ids", () => {
  const event = parseEvent({ ...valid(), user_id: 0, song_id: 0 });
  assert.equal(event.user_id, 0);
  assert.equal(event.song_id, 0);
});

Deno.test("parseEvent() rejects string fields of the wrong type", () => {
  assertRejects({ ...valid(), artist: 5 }, "artist", "'artist' must be a string, got 5");
  assertRejects(
    { ...valid(), song_name: { title: "zombie" } },
    "song_name",
    "'song_name' must be a string, got an object",
  );
  assertRejects(
    { ...valid(), timestamp: 1667460133 },
    "timestamp",
    "'timestamp' must be a string, got 1667460133",
  );
  assertRejects(
    { ...valid(), event_id: null },
    "event_id",
    "'event_id' must be a string, got null",
  );
});

Deno.test("parseEvent() rejects empty strings", () => {
  assertRejects({ ...valid(), song_name: "" }, "song_name", "'song_name' must not be empty");
  assertRejects({ ...valid(), artist: "" }, "artist", "'artist' must not be empty");
});

Deno.test("parseEvent() rejects another event_type", () => {
  assertRejects(
    { ...valid(), event_type: "song_skipped" },
    "event_type",
    `'event_type' must be "song_completed", got "song_skipped"`,
  );
});

Deno.test("parseEvent() rejects an event_id that is not a UUID", () => {
  for (const id of ["nope", "0f8e1b5c8a3e4c4e9d550c2a9d1f6b7a", `${ID}0`, `{${ID}}`]) {
    assertRejects(
      { ...valid(), event_id: id },
      "event_id",
      `'event_id' must be a UUID, got ${JSON.stringify(id)}`,
    );
  }
});

Deno.test("parseEvent() takes exactly the ids a UUID pattern matches, lowered", () => {
  const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const alphabet = "0123456789abcdefABCDEFgG-é ";
  const random = fixedIntegers(5);
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    // Mostly a UUID's layout with one character changed, sometimes a length off by one.
    const chars = [...crypto.randomUUID()];
    if (random(2) === 0) chars[random(36)] = alphabet[random(alphabet.length)]!;
    if (random(3) === 0) chars[random(36)] = chars[random(36)]!.toUpperCase();
    if (random(20) === 0) chars.splice(random(36), random(2) === 0 ? 1 : 0, "a");
    const id = chars.join("");
    if (pattern.test(id)) {
      accepted++;
      assert.equal(parseEvent({ ...valid(), event_id: id }).event_id, id.toLowerCase());
    } else {
      assertRejects(
        { ...valid(), event_id: id },
        "event_id",
        `'event_id' must be a UUID, got ${JSON.stringify(id)}`,
      );
    }
  }
  assert.ok(accepted > 5_000 && accepted < 18_000, `${accepted} accepted`);
});

Deno.test("parseEvent() rejects an artist that is not a slug", () => {
  for (
    const artist of [
      "Tony Allen",
      "tony_allen",
      "-tony",
      "tony-",
      "tony--allen",
      "TONY",
      "tony allen",
    ]
  ) {
    assertRejects(
      { ...valid(), artist },
      "artist",
      `'artist' must be a slug like "tony-allen", got ${JSON.stringify(artist)}`,
    );
  }
});

Deno.test("parseEvent() rejects an artist slug longer than 128 characters", () => {
  assert.equal(parseEvent({ ...valid(), artist: "a".repeat(128) }).artist.length, 128);
  const artist = "a".repeat(129);
  assertRejects(
    { ...valid(), artist },
    "artist",
    `'artist' must be a slug like "tony-allen", got ${JSON.stringify("a".repeat(64))}`,
  );
});

Deno.test("parseEvent() rejects a too long song name", () => {
  const longest = "x".repeat(MAX_SONG_NAME_LENGTH);
  assert.equal(parseEvent({ ...valid(), song_name: longest }).song_name, longest);
  assertRejects(
    { ...valid(), song_name: longest + "x" },
    "song_name",
    `'song_name' must be at most ${MAX_SONG_NAME_LENGTH} characters, got ${
      MAX_SONG_NAME_LENGTH + 1
    }`,
  );
});

Deno.test("parseEvent() accepts any song name text, not only slugs", () => {
  assert.equal(
    parseEvent({ ...valid(), song_name: "Água de Beber (Live)" }).song_name,
    "Água de Beber (Live)",
  );
});

Deno.test("parseEvent() rejects bad timestamps", () => {
  for (
    const timestamp of [
      "2022-02-30 07:22:13", // rolls over to March 2 in JavaScript
      "2022-02-29T00:00:00Z", // not a leap year
      "2022-04-31T00:00:00Z",
      "2022-11-03 24:00:00",
      "2022-11-03T23:60:00Z",
      "2022-11-03T23:59:60Z",
      "2022-13-01T00:00:00Z",
      "2022-00-10T00:00:00Z",
      "2022-11-00T00:00:00Z",
      "2022-11-03",
      "07:22:13",
      "2022-11-03T07:22:13+24:00",
      "2022-11-03T07:22:13.Z",
      "03/11/2022 07:22:13",
      "2022-11-03T07:22:13z",
      " 2022-11-03T07:22:13Z",
      "0000-01-01T00:00:00Z",
      "9999-12-31T23:30:00-01:00", // year 10000 in UTC
    ]
  ) {
    assertRejects(
      { ...valid(), timestamp },
      "timestamp",
      `'timestamp' must be an ISO-8601 time like "2022-11-03T07:22:13Z", got ${
        JSON.stringify(timestamp)
      }`,
    );
  }
});

Deno.test("parseEvent() accepts February 29 of a leap year", () => {
  assert.equal(
    parseEvent({ ...valid(), timestamp: "2024-02-29T23:59:59Z" }).timestamp,
    "2024-02-29T23:59:59.000Z",
  );
});

Deno.test("parseEvent() rejects input that is not a JSON object", () => {
  assertRejects(null, undefined, "expected a JSON object, got null");
  assertRejects([valid()], undefined, "expected a JSON object, got an array");
  assertRejects("event", undefined, `expected a JSON object, got "event"`);
  assertRejects(42, undefined, "expected a JSON object, got 42");
  assertRejects(undefined, undefined, "expected a JSON object, got nothing");
});

Deno.test("parseEvent() reads the tutorial format as UTC and derives the id", () => {
  const event = parseEvent(tutorial(), SOURCE);
  assert.deepEqual(event, {
    event_id: deriveEventId(SOURCE),
    user_id: 7,
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: "2022-11-03T07:22:13.000Z",
  });
  assert.match(event.event_id, UUID_V5);
});

Deno.test("parseEvent() keeps a given event_id even when a source is given", () => {
  assert.equal(parseEvent(valid(), SOURCE).event_id, ID);
});

Deno.test("parseEvent() gives a re-read tutorial event the same id", () => {
  const first = parseEvent(tutorial(), { ...SOURCE });
  const again = parseEvent(tutorial(), { ...SOURCE });
  assert.equal(first.event_id, again.event_id);
});

Deno.test("deriveEventId() is deterministic and depends on every coordinate", () => {
  const id = deriveEventId(SOURCE);
  assert.equal(deriveEventId({ topic: "tony-allen-plays", partition: 2, offset: "41" }), id);
  const others = [
    deriveEventId({ ...SOURCE, offset: "42" }),
    deriveEventId({ ...SOURCE, partition: 3 }),
    deriveEventId({ ...SOURCE, topic: "other-plays" }),
    // Fields must not run into each other: ("a", 12, "3") vs ("a", 1, "23").
    deriveEventId({ topic: "a", partition: 12, offset: "3" }),
    deriveEventId({ topic: "a", partition: 1, offset: "23" }),
  ];
  assert.equal(new Set([id, ...others]).size, others.length + 1);
});

Deno.test("deriveEventId() returns a UUID with the version 5 layout", () => {
  for (let offset = 0; offset < 200; offset++) {
    const id = deriveEventId({ ...SOURCE, offset: String(offset) });
    assert.match(id, UUID_V5);
    // It is also accepted as an event_id.
    assert.equal(parseEvent({ ...valid(), event_id: id }).event_id, id);
  }
});

Deno.test("normalizeTimestamp() converts offsets to UTC", () => {
  assert.equal(normalizeTimestamp("2022-11-03T07:22:13+01:00"), "2022-11-03T06:22:13.000Z");
  assert.equal(normalizeTimestamp("2022-11-03T07:22:13.123456+05:30"), "2022-11-03T01:52:13.123Z");
  assert.equal(normalizeTimestamp("2022-11-03T07:22:13-00:00"), "2022-11-03T07:22:13.000Z");
  // An offset may move the date across a month or year boundary.
  assert.equal(normalizeTimestamp("2022-02-28T23:30:00-01:00"), "2022-03-01T00:30:00.000Z");
  assert.equal(normalizeTimestamp("2023-01-01T00:30:00+01:00"), "2022-12-31T23:30:00.000Z");
});

Deno.test("normalizeTimestamp() reads a time without zone as UTC", () => {
  assert.equal(normalizeTimestamp("2022-11-03 07:22:13"), "2022-11-03T07:22:13.000Z");
  assert.equal(normalizeTimestamp("2022-11-03T07:22:13"), "2022-11-03T07:22:13.000Z");
  assert.equal(normalizeTimestamp("2022-11-03 07:22:13.5"), "2022-11-03T07:22:13.500Z");
});

Deno.test("normalizeTimestamp() keeps milliseconds and drops finer digits", () => {
  assert.equal(normalizeTimestamp("2026-11-24T19:22:13Z"), "2026-11-24T19:22:13.000Z");
  assert.equal(normalizeTimestamp("2026-11-24T19:22:13.1Z"), "2026-11-24T19:22:13.100Z");
  assert.equal(normalizeTimestamp("2026-11-24T19:22:13.999999999Z"), "2026-11-24T19:22:13.999Z");
});

Deno.test("normalizeTimestamp() accepts the first and last BigQuery timestamps", () => {
  assert.equal(normalizeTimestamp("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00.000Z");
  assert.equal(normalizeTimestamp("9999-12-31T23:59:59.999Z"), "9999-12-31T23:59:59.999Z");
  assert.equal(normalizeTimestamp("0001-01-01T00:30:00+01:00"), undefined); // year 0 in UTC
});

Deno.test("decodeEvent() parses UTF-8 JSON bytes", () => {
  const event = decodeEvent(bytes(JSON.stringify({ ...valid(), song_name: "kɛ́lɛ́ 🥁" })));
  assert.equal(event.song_name, "kɛ́lɛ́ 🥁");
});

Deno.test("decodeEvent() derives the id of a tutorial event from its source", () => {
  assert.equal(
    decodeEvent(bytes(JSON.stringify(tutorial())), SOURCE).event_id,
    deriveEventId(SOURCE),
  );
});

Deno.test("decodeEvent() rejects invalid UTF-8", () => {
  const good = bytes(JSON.stringify(valid()));
  const bad = new Uint8Array([...good.subarray(0, 20), 0xff, 0xfe, ...good.subarray(20)]);
  assert.throws(() => decodeEvent(bad), (error: unknown) => {
    assert.ok(error instanceof EventError);
    assert.equal(error.message, "Cannot parse event: the message is not valid UTF-8");
    assert.equal(error.field, undefined);
    return true;
  });
});

Deno.test("decodeEvent() reads bytes as a strict UTF-8 decoder does, from a Buffer or not", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const outcome = (run: () => unknown) => {
    try {
      return { ok: run() };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  };
  const [head, tail] = JSON.stringify({ ...valid(), song_name: "@" }).split("@") as [
    string,
    string,
  ];
  const pieces = [
    [0xef, 0xbb, 0xbf], // a byte order mark, inside the name
    [0xef, 0xbf, 0xbd], // U+FFFD written as UTF-8: valid
    [0xc3, 0xa9], // é
    [0xf0, 0x9f, 0xa5, 0x81], // 🥁
    [0xc3], // a lead byte alone
    [0xa9], // a continuation byte alone
    [0xc0, 0xaf], // an overlong "/"
    [0xed, 0xa0, 0x80], // a surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xff],
    [0x41],
  ];
  const random = fixedIntegers(3);
  const cases: Uint8Array[] = [
    new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(head + "x" + tail)]), // a leading byte order mark
    new Uint8Array([0xef, 0xbb, 0xbf]),
  ];
  for (let i = 0; i < 2_000; i++) {
    const name: number[] = [];
    for (let n = 1 + random(4); n > 0; n--) name.push(...pieces[random(pieces.length)]!);
    cases.push(new Uint8Array([...bytes(head), ...name, ...bytes(tail)]));
  }
  let refused = 0;
  for (const value of cases) {
    const expected = outcome(() => {
      let text: string;
      try {
        text = strict.decode(value);
      } catch {
        throw new EventError("the message is not valid UTF-8");
      }
      return decodeEventText(text).event.song_name;
    });
    if ("error" in expected) refused++;
    assert.deepEqual(outcome(() => decodeEvent(value).song_name), expected, String(value));
    assert.deepEqual(outcome(() => decodeEvent(Buffer.from(value)).song_name), expected);
  }
  assert.ok(refused > 200 && refused < 1_900, `${refused} refused`);
});

Deno.test("decodeEvent() rejects invalid JSON", () => {
  for (const text of ["{", "{'a': 1}", "not json", `${JSON.stringify(valid())} trailing`]) {
    assert.throws(() => decodeEvent(bytes(text)), (error: unknown) => {
      assert.ok(error instanceof EventError);
      assert.match(error.message, /^Cannot parse event: the message is not valid JSON \(.+\)$/);
      assert.equal(error.field, undefined);
      return true;
    });
  }
});

Deno.test("decodeEvent() rejects JSON that is not an object", () => {
  const cases: Array<[string, string]> = [
    ["[1,2]", "an array"],
    ["null", "null"],
    ['"x"', '"x"'],
    ["12", "12"],
    ["true", "true"],
  ];
  for (const [text, got] of cases) {
    assert.throws(() => decodeEvent(bytes(text)), {
      name: "EventError",
      message: `Cannot parse event: expected a JSON object, got ${got}`,
    });
  }
});

Deno.test("decodeEvent() rejects an empty or null message", () => {
  for (const value of [null, new Uint8Array()]) {
    assert.throws(() => decodeEvent(value), {
      name: "EventError",
      message: "Cannot parse event: the message is empty",
    });
  }
});

Deno.test("decodeEvent() reports the first bad field of a decoded message", () => {
  assert.throws(() => decodeEvent(bytes(JSON.stringify({ ...valid(), song_id: "x" }))), {
    message: `Cannot parse event: 'song_id' must be an integer, got "x"`,
  });
});

Deno.test("encodeEvent() and decodeEvent() round-trip an event", () => {
  const event: SongCompleted = parseEvent({ ...valid(), song_name: 'Ọ̀rọ̀ "quoted" \\ é' });
  const encoded = encodeEvent(event);
  assert.ok(encoded instanceof Uint8Array);
  assert.deepEqual(decodeEvent(encoded), event);
  // Field order follows the declaration, for stable bytes.
  assert.deepEqual(Object.keys(JSON.parse(new TextDecoder().decode(encoded))), [
    "event_id",
    "user_id",
    "artist",
    "song_id",
    "song_name",
    "event_type",
    "timestamp",
  ]);
});

Deno.test("encodeEvent() of a normalized tutorial event decodes to the same event", () => {
  const event = parseEvent(tutorial(), SOURCE);
  assert.deepEqual(decodeEvent(encodeEvent(event)), event);
});

Deno.test("checkEventTime() accepts up to the skew ahead of the earlier of record time and clock", () => {
  const now = Date.UTC(2026, 11, 5, 9);
  const at = (ms: number): SongCompleted => ({
    ...parseEvent(valid()),
    timestamp: new Date(ms).toISOString(),
  });
  const clock = { now, maxFutureMs: 300_000 };
  assert.ok(checkEventTime(at(now + 300_000), clock));
  assert.throws(() => checkEventTime(at(now + 300_001), clock), {
    name: "EventError",
    message: /^Cannot parse event: 'timestamp' must be at most 5m ahead of the clock/,
  });
  // A record produced earlier bounds it too; a future record time does not widen it.
  assert.throws(() => checkEventTime(at(now), { ...clock, producedAt: now - 300_001 }));
  assert.throws(() => checkEventTime(at(now + 300_001), { ...clock, producedAt: now + 9e6 }));
  assert.ok(checkEventTime(at(now + 300_000), { ...clock, producedAt: "not a time" }));
});

Deno.test("decodeEvent() with a clock refuses a time in the far future", () => {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ ...valid(), timestamp: "9999-12-31T23:59:59Z" }),
  );
  assert.ok(decodeEvent(bytes));
  assert.throws(() => decodeEvent(bytes, undefined, { now: Date.now(), maxFutureMs: 300_000 }), {
    name: "EventError",
  });
});

Deno.test("normalizeTimestamp() keeps a canonical time only when it is a real one", () => {
  // Every canonical-looking time, valid or not, gets the answer a full parse gives.
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  const reference = (text: string) => {
    const date = new Date(text);
    const ok = !Number.isNaN(date.getTime()) && date.toISOString() === text &&
      date.getUTCFullYear() >= 1;
    return ok ? text : undefined;
  };
  const random = fixedIntegers(1);
  const years = [0, 1, 1900, 1970, 2000, 2023, 2024, 2100, 9999];
  for (let i = 0; i < 20_000; i++) {
    const text = `${pad(years[random(years.length)]!, 4)}-${pad(random(14), 2)}-${
      pad(random(33), 2)
    }T${pad(random(26), 2)}:${pad(random(61), 2)}:${pad(random(61), 2)}.${pad(random(1000), 3)}Z`;
    assert.equal(normalizeTimestamp(text), reference(text), text);
  }
  assert.equal(normalizeTimestamp("2024-02-29T23:59:59.999Z"), "2024-02-29T23:59:59.999Z");
  assert.equal(normalizeTimestamp("2023-02-29T00:00:00.000Z"), undefined);
  assert.equal(normalizeTimestamp("2023-01-01T00:00:00.00xZ"), undefined);
});
