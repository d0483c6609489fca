// The sink's partition writer against a fake BigQuery that enforces what the
// Storage Write API enforces (COMMITTED streams, explicit offsets, finalize
// with a row count) and a fake Kafka group (committed offsets with metadata).
// Crashes are simulated by stopping a writer at any point and starting a new
// one that re-reads from the committed offset, as a restart does.

import { seededRandom } from "../support/seed.ts";
import assert from "node:assert/strict";
import type {
  AppendResult,
  Destination,
  RowStream,
  TableCheck,
} from "../../shared/bigquery/mod.ts";
import type { OutgoingMessage, SourceMessage } from "../../shared/dlq/dead_letter.ts";
import { deriveEventId } from "../../shared/event.ts";
import { type Column, type PlayRow, PLAYS_COLUMNS } from "../../shared/schema.ts";
import { formatMarker, parseMarker } from "../../shared/sink/commit_marker.ts";
import {
  type Blocked,
  createPartitionWriter,
  createTableState,
  type PartitionWriter,
  type WriterContext,
} from "../../shared/sink/partition/mod.ts";
import {
  createSinkStats,
  decodeMessage,
  type Decoder,
  failureOf,
  playDecoder,
} from "../../shared/sink/sink.ts";
import { createStreamBudget } from "../../shared/sink/stream_budget.ts";
import { isMembershipError } from "../../shared/kafka/errors.ts";
import { deadLetter } from "../../shared/dlq/dead_letter.ts";
import { EventError } from "../../shared/event.ts";

const TOPIC = "tony-allen-plays";

function event(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `00000000-0000-4000-8000-${String(id).padStart(12, "0")}`,
    user_id: 1_000 + id,
    artist: "tony-allen",
    song_id: 1 + (id % 10),
    song_name: "zombie",
    event_type: "song_completed",
    timestamp: "2026-11-24T19:22:13.000Z",
    ...extra,
  };
}

function message(offset: number, value: unknown): SourceMessage {
  return {
    key: null,
    value: new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value)),
    offset: String(offset),
    timestamp: "1795548133000", // the event's time: produced as it happened
  };
}

/** Messages 0..count-1 of good events, with `poison` offsets holding invalid JSON. */
function messages(count: number, poison: readonly number[] = []): SourceMessage[] {
  return Array.from(
    { length: count },
    (_, i) => message(i, poison.includes(i) ? "{not json" : event(i)),
  );
}

interface FakeStream {
  rows: PlayRow[];
  finalized: boolean;
  pending: boolean;
  /** The table's incarnation it writes to. */
  generation: number;
  /** Lower-case names of the columns its rows are described with. */
  columns: Set<string>;
  /** Their types, by lower-case name. */
  types: Map<string, string>;
}

/** What a fake append does instead of answering normally. */
type Fault =
  /** Stores the rows, but the answer is lost (a deadline). */
  | "lose-answer"
  /** Stores nothing and fails, retryably. */
  | "unavailable"
  /** The stream goes away (an expired stream, a restarted local BigQuery). */
  | "gone";

/** A fake BigQuery: one table, COMMITTED and PENDING streams with offsets. */
function fakeBigQuery(options: { exactlyOnce?: boolean } = {}) {
  const state = {
    table: [] as PlayRow[],
    exists: true,
    generation: 1,
    denied: false,
    schemaProblem: undefined as string | undefined,
    /** Rows BigQuery refuses (request-level INVALID_ARGUMENT, no row named). */
    refuse: (_row: PlayRow) => false,
    streams: new Map<string, FakeStream>(),
    faults: [] as Fault[],
    appends: 0,
    created: 0,
    /** Write streams created (COMMITTED and PENDING). */
    streamsCreated: 0,
    finalizeCalls: 0,
    /** Answer finalize of an already finalized stream with FAILED_PRECONDITION. */
    refuseRefinalize: false,
    /** Whether queries are allowed. */
    canQuery: true,
    /** The table's columns. */
    columns: [...PLAYS_COLUMNS] as Column[],
    /** Columns added through addColumns. */
    columnsAdded: 0,
    /**
     * Streams write to the table of their name, whichever incarnation (as
     * BigQuery's and the local emulator's do), instead of failing once it
     * was created again.
     */
    streamsFollowName: false,
    /** Runs before each append to a COMMITTED stream (1, 2, ...). */
    beforeAppend: undefined as ((appendNumber: number) => void) | undefined,
    /**
     * How an append described with a column the table no longer has fails:
     * as real BigQuery documents (refused, SCHEMA_MISMATCH_EXTRA_FIELDS, read
     * as FAILED_PRECONDITION), or as the local one does (UNKNOWN, its rows
     * counted by the stream though none is stored).
     */
    schemaMismatch: "real" as "real" | "local",
    /** Lookups of the table's columns. */
    columnLookups: 0,
    /** Answers of appends to COMMITTED streams from this one on (1, 2, ...) carry an updated schema. */
    schemaUpdatedFrom: Infinity,
  };
  let appendsSeen = 0;
  let next = 0;

  function append(name: string, rows: readonly PlayRow[], offset: number): AppendResult {
    const stream = state.streams.get(name);
    if (stream === undefined) {
      return { status: "failed", code: 5, message: `stream ${name} not found`, retryable: false };
    }
    if (state.denied) return { status: "failed", code: 7, message: "denied", retryable: false };
    if (!stream.pending) state.beforeAppend?.(++appendsSeen);
    if (!state.exists || (stream.generation !== state.generation && !state.streamsFollowName)) {
      return { status: "failed", code: 5, message: "table not found", retryable: false };
    }
    if (stream.finalized) {
      return {
        status: "failed",
        code: 9,
        message: "stream finalized",
        retryable: false,
        finalized: true,
      };
    }
    // A column dropped, or dropped and added again with another type.
    const lacking = [...stream.types].find(([name, type]) =>
      !state.columns.some((column) => column.name.toLowerCase() === name && column.type === type)
    )?.[0];
    if (lacking !== undefined && state.schemaMismatch === "real") {
      const message =
        `Input schema has more fields than BigQuery schema, extra fields: '${lacking}'`;
      return { status: "failed", code: 9, message, retryable: false };
    }
    if (offset < stream.rows.length) return { status: "already-exists", message: "exists" };
    if (offset > stream.rows.length) return { status: "out-of-range", message: "gap" };
    if (lacking !== undefined) {
      stream.rows.push(...rows);
      const message = "Binder Error: the table has fewer columns than values were supplied";
      return { status: "failed", code: 2, message, retryable: false };
    }
    const undescribed = rows.find((row) =>
      Object.keys(row.fields ?? {}).some((name) => !stream.columns.has(name.toLowerCase()))
    );
    if (undescribed !== undefined) {
      // The client cannot even encode a row with a field its descriptor lacks.
      return {
        status: "failed",
        code: 3,
        message: `row ${undescribed.event_id} has a field the stream's schema lacks`,
        retryable: false,
      };
    }
    const bad = rows.find(state.refuse);
    if (bad !== undefined) {
      return {
        status: "failed",
        code: 3,
        message: `invalid value in ${bad.event_id}`,
        retryable: false,
      };
    }
    const fault = stream.pending ? undefined : state.faults.shift();
    if (fault === "unavailable") {
      return { status: "failed", code: 14, message: "unavailable", retryable: true };
    }
    if (fault === "gone") {
      state.streams.delete(name);
      return { status: "failed", code: 5, message: `stream ${name} not found`, retryable: false };
    }
    stream.rows.push(...rows);
    if (!stream.pending) state.table.push(...rows);
    state.appends++;
    if (fault === "lose-answer") {
      return { status: "failed", code: 4, message: "deadline", retryable: true };
    }
    if (!stream.pending && state.appends >= state.schemaUpdatedFrom) {
      return { status: "ok", offset, rows: rows.length, schemaUpdated: true };
    }
    return { status: "ok", offset, rows: rows.length };
  }

  function open(pending: boolean, columns: readonly Column[] = PLAYS_COLUMNS): RowStream {
    if (!state.exists) throw Object.assign(new Error("table not found"), { code: 5 });
    const name = `projects/p/datasets/d/tables/t/streams/s${next++}`;
    state.streamsCreated++;
    state.streams.set(name, {
      rows: [],
      finalized: false,
      pending,
      generation: state.generation,
      columns: new Set(columns.map((column) => column.name.toLowerCase())),
      types: new Map(columns.map((column) => [column.name.toLowerCase(), column.type])),
    });
    let closed = false;
    return {
      name,
      append: (rows, offset) =>
        Promise.resolve(
          closed
            ? { status: "failed", code: 1, message: "closed", retryable: true }
            : append(name, rows, offset),
        ),
      close: () => void (closed = true),
    };
  }

  const insertAll: RowStream = {
    name: undefined,
    append(rows, offset) {
      if (!state.exists) {
        return Promise.resolve({
          status: "failed",
          code: 5,
          message: "no table",
          retryable: false,
        });
      }
      const refused = rows.flatMap((row, index) =>
        state.refuse(row) ? [{ index, reason: "invalid" }] : []
      );
      state.table.push(...rows.filter((row) => !state.refuse(row)));
      return Promise.resolve({ status: "ok", offset, rows: rows.length - refused.length, refused });
    },
    close() {},
  };

  const destination: Destination = {
    api: options.exactlyOnce === false ? "insert-all" : "storage-write",
    exactlyOnce: options.exactlyOnce !== false,
    table: "p.d.t",
    checkTable(): Promise<TableCheck> {
      if (state.denied) return Promise.resolve({ status: "denied", message: "denied" });
      if (!state.exists) return Promise.resolve({ status: "missing", message: "Not found: t" });
      return Promise.resolve({
        status: "ok",
        createdAt: state.generation,
        schemaProblem: state.schemaProblem,
      });
    },
    createTable() {
      if (!state.exists) {
        state.exists = true;
        state.generation++;
        state.table = [];
        state.created++;
      }
      return Promise.resolve();
    },
    tableColumns() {
      state.columnLookups++;
      return Promise.resolve([...state.columns]);
    },
    addColumns(columns) {
      for (const column of columns) {
        if (state.columns.some((known) => known.name.toLowerCase() === column.name.toLowerCase())) {
          continue;
        }
        state.columns.push({ ...column, mode: "NULLABLE" });
        state.columnsAdded++;
      }
      return Promise.resolve([...state.columns]);
    },
    openStream: (columns) =>
      options.exactlyOnce === false
        ? Promise.resolve(insertAll)
        : Promise.resolve(open(false, columns)),
    openProbe: () => Promise.resolve(options.exactlyOnce === false ? undefined : open(true)),
    finalizeStream(name) {
      state.finalizeCalls++;
      const stream = state.streams.get(name);
      if (stream === undefined) return Promise.resolve({ status: "not-found", message: "gone" });
      if (stream.finalized && state.refuseRefinalize) {
        return Promise.reject(Object.assign(new Error("stream already finalized"), { code: 9 }));
      }
      stream.finalized = true;
      return Promise.resolve({ status: "finalized", rowCount: stream.rows.length });
    },
    storedOffsets(partition, from) {
      if (!state.canQuery) {
        return Promise.reject(Object.assign(new Error("Access Denied: jobs.create"), { code: 7 }));
      }
      return Promise.resolve(
        new Set(
          state.table.filter((row) => row.kafka_partition === partition)
            .map((row) => BigInt(row.kafka_offset)).filter((offset) => offset >= from),
        ),
      );
    },
    isTransient: (error) =>
      !(typeof error === "object" && error !== null && "code" in error &&
        (error.code === 5 || error.code === 7 || error.code === 9)),
    close() {},
  };
  return { state, destination };
}

/** A fake consumer group: committed offsets with metadata, per partition. */
function fakeGroup() {
  const committed = new Map<number, { offset: bigint; metadata: string | null }>();
  const log: Array<{ partition: number; offset: bigint; metadata: string | undefined }> = [];
  return {
    committed,
    log,
    io(partition: number) {
      return {
        committed: () => Promise.resolve(committed.get(partition)),
        commit(offset: bigint, metadata: string | undefined) {
          committed.set(partition, { offset, metadata: metadata ?? null });
          log.push({ partition, offset, metadata });
          return Promise.resolve();
        },
      };
    },
  };
}

interface Harness {
  bq: ReturnType<typeof fakeBigQuery>;
  group: ReturnType<typeof fakeGroup>;
  letters: OutgoingMessage[];
  blocked: Array<Blocked | undefined>;
  stats: ReturnType<typeof createSinkStats>;
  context(overrides?: Partial<WriterContext>): WriterContext;
  /** Starts a writer of partition 0 and hands it `all` from the committed offset on. */
  start(all: readonly SourceMessage[], overrides?: Partial<WriterContext>): PartitionWriter;
}

function harness(options: { exactlyOnce?: boolean; createTable?: boolean } = {}): Harness {
  const bq = fakeBigQuery(options);
  const group = fakeGroup();
  const letters: OutgoingMessage[] = [];
  const blocked: Array<Blocked | undefined> = [];
  const stats = createSinkStats();
  const table = createTableState(bq.destination, { createdAt: 1 });
  const h: Harness = {
    bq,
    group,
    letters,
    blocked,
    stats,
    context: (overrides = {}) => ({
      topic: TOPIC,
      destination: bq.destination,
      table,
      createTable: options.createTable ?? true,
      stats,
      limits: { maxRows: 4, maxBytes: 1_000_000, maxWaitMs: 1, concurrency: 2 },
      publish(sent) {
        letters.push(...sent);
        return Promise.resolve();
      },
      isTransientKafka: () => true,
      backoff: { initialMs: 1, maxMs: 2 },
      blockedBackoff: { initialMs: 1, maxMs: 2 },
      events: { blocked: (_partition, problem) => blocked.push(problem) },
      ...overrides,
    }),
    start(all, overrides) {
      const writer = createPartitionWriter(0, group.io(0), h.context(overrides));
      const from = group.committed.get(0)?.offset ?? 0n;
      writer.add(all.filter((m) => BigInt(m.offset) >= from), BigInt(all.length));
      return writer;
    },
  };
  return h;
}

/** Offsets of the events stored, in table order. */
function stored(h: Harness): number[] {
  return h.bq.state.table.map((row) => row.kafka_offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

async function waitUntil(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("decodeMessage() turns a message into its row, or its dead letter", () => {
  const good = decodeMessage(TOPIC, 3, message(10, event(1)), "2026-11-24T19:30:00.000Z");
  assert.deepEqual(good.row, {
    ...event(1),
    ingested_at: "2026-11-24T19:30:00.000Z",
    kafka_partition: 3,
    kafka_offset: 10,
  });
  const bad = decodeMessage(TOPIC, 3, message(11, event(2, { song_id: "x" })), "");
  assert.equal(bad.row, undefined);
  assert.equal(bad.letter?.headers["error.kind"], "invalid-event");
  assert.equal(
    bad.letter?.headers.error,
    `Cannot parse event: 'song_id' must be an integer, got "x"`,
  );
  assert.equal(bad.letter?.headers["source.offset"], "11");
});

Deno.test("decodeMessage() gives tutorial events the same id on every read", () => {
  const { event_id: _, ...tutorial } = event(1, { timestamp: "2022-11-03 07:22:13" });
  const first = decodeMessage(TOPIC, 1, message(7, tutorial), "a");
  const again = decodeMessage(TOPIC, 1, message(7, tutorial), "b");
  assert.equal(first.row?.event_id, deriveEventId({ topic: TOPIC, partition: 1, offset: "7" }));
  assert.equal(first.row?.event_id, again.row?.event_id);
  assert.equal(first.row?.timestamp, "2022-11-03T07:22:13.000Z");
});

Deno.test("failureOf() classifies decoding errors by field", () => {
  assert.deepEqual(failureOf(new EventError("the message is empty")), {
    kind: "invalid-json",
    reason: "Cannot parse event: the message is empty",
    field: undefined,
  });
  assert.equal(failureOf(new EventError("'song_id' is missing", "song_id")).kind, "invalid-event");
});

Deno.test("commit markers round-trip and stay under the broker's metadata limit", () => {
  const marker = {
    stream: "projects/p/datasets/d/tables/t/streams/abc",
    row: 1234,
    finalized: true,
    version: "7",
    askUntil: 99n,
  };
  assert.deepEqual(parseMarker(formatMarker(marker)), marker);
  assert.equal(parseMarker(null), undefined);
  assert.equal(parseMarker("not json"), undefined);
  assert.equal(parseMarker('{"s":"","r":1}'), undefined);
  assert.throws(() => formatMarker({ stream: "x".repeat(5_000), row: 0 }), /4096 bytes/);
});

Deno.test("createPartitionWriter() appends rows in order at explicit offsets and commits markers", async () => {
  const h = harness();
  const writer = h.start(messages(10, [3]));
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), [0, 1, 2, 4, 5, 6, 7, 8, 9]);
  assert.equal(h.letters.length, 1);
  assert.equal(h.letters[0]!.headers["source.offset"], "3");
  assert.equal(h.stats.inserted, 9);
  assert.equal(h.stats.deadLettered["invalid-json"], 1);
  // The first commit names the stream before anything is appended to it.
  const [first, ...rest] = h.group.log;
  assert.equal(first!.offset, 0n);
  assert.equal(parseMarker(first!.metadata)?.row, 0);
  const last = rest.at(-1)!;
  assert.equal(last.offset, 10n);
  const marker = parseMarker(last.metadata)!;
  assert.equal(marker.stream, parseMarker(first!.metadata)?.stream);
  assert.equal(marker.row, 9);
  assert.equal(h.bq.state.streams.get(marker.stream)?.finalized, true, "finalized on close");
});

Deno.test("createPartitionWriter() skips rows the finalized stream already holds after a crash", async () => {
  const h = harness();
  const all = messages(20, [5, 12]);
  // A crash after some appends were acknowledged and before their commit.
  let acknowledged = 0;
  const crashed = h.start(all, {
    events: {
      acknowledged() {
        if (++acknowledged === 3) void crashed.stop();
      },
    },
  });
  await crashed.stopped;
  const before = stored(h).length;
  assert.ok(before > 0 && before < 18, `stored ${before} before the crash`);
  const committed = h.group.committed.get(0)!;
  assert.ok(committed.offset < 20n);

  const restarted = h.start(all);
  await restarted.drain();
  await restarted.close();
  assert.deepEqual(
    stored(h).sort((a, b) => a - b),
    range(0, 20).filter((i) => i !== 5 && i !== 12),
  );
  assert.ok(h.stats.skipped > 0, "some rows were found stored and skipped");
  assert.equal(h.stats.rewritten, 0);
});

Deno.test("createPartitionWriter() stores each row once across random crashes, lost answers and refused rows", async () => {
  const { random } = seededRandom("random crashes");
  for (let round = 0; round < 30; round++) {
    const h = harness();
    const poison = [3, 17, 18, 40];
    const refused = [7, 8, 25, 44, 59];
    h.bq.state.refuse = (row) => refused.includes(row.kafka_offset);
    const all = messages(60, poison);
    h.bq.state.faults = Array.from(
      { length: 40 },
      () => random() < 0.15 ? (random() < 0.5 ? "lose-answer" : "unavailable") : undefined,
    ).filter((fault): fault is "lose-answer" | "unavailable" => fault !== undefined);
    for (let life = 0; life < 6; life++) {
      const crashAt = 1 + Math.floor(random() * 6);
      let acknowledged = 0;
      const writer = h.start(all, {
        limits: {
          maxRows: 1 + Math.floor(random() * 7),
          maxBytes: 1_000_000,
          maxWaitMs: 1,
          concurrency: 1 + Math.floor(random() * 3),
        },
        events: {
          acknowledged() {
            if (life < 5 && ++acknowledged === crashAt) void writer.stop();
          },
        },
      });
      if (life < 5) {
        await Promise.race([writer.stopped, writer.drain()]);
        await writer.stop();
      } else {
        await writer.drain();
        await writer.close();
      }
    }
    const offsets = stored(h).sort((a, b) => a - b);
    const expected = range(0, 60).filter((i) => !poison.includes(i) && !refused.includes(i));
    assert.deepEqual(offsets, expected, `round ${round}`);
    assert.equal(h.group.committed.get(0)?.offset, 60n);
    const lettered = new Set(h.letters.map((letter) => Number(letter.headers["source.offset"])));
    assert.deepEqual(
      [...lettered].sort((a, b) => a - b),
      [...poison, ...refused].sort((a, b) => a - b),
    );
  }
});

Deno.test("createPartitionWriter() settles an answer it lost by the stream's row count", async () => {
  const h = harness();
  h.bq.state.faults = ["lose-answer", "unavailable", "lose-answer"];
  const writer = h.start(messages(16));
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 16));
  assert.ok(h.stats.retries >= 3);
  assert.equal(h.stats.inserted, 16);
});

Deno.test("createPartitionWriter() resumes fetching once a failure is settled with every row found stored, no append left", async () => {
  const h = harness();
  // Stored, the answer lost; the stream gone before the append is sent again
  // (the local BigQuery restarted): a query finds every row stored.
  h.bq.state.faults = ["lose-answer"];
  const waits: boolean[] = [];
  const writer = h.start(messages(4), {
    events: {
      backoff: (_partition, isWaiting) => waits.push(isWaiting),
      retry: () => h.bq.state.streams.clear(),
    },
  });
  await writer.drain();
  assert.deepEqual(stored(h), range(0, 4));
  assert.equal(h.group.committed.get(0)?.offset, 4n);
  assert.deepEqual(waits, [true, false], "fetching paused for the failure, then resumed");
  await writer.close();
});

Deno.test("createPartitionWriter() asks BigQuery which offsets it holds when the stream is gone: exactly once", async () => {
  const h = harness();
  const all = messages(40);
  let acknowledged = 0;
  const crashed = h.start(all, {
    events: { acknowledged: () => void (++acknowledged === 3 && crashed.stop()) },
  });
  await crashed.stopped;
  const before = stored(h).length;
  assert.ok(before > 0 && before < 40, `stored ${before} before the crash`);
  // The local BigQuery restarted: its write streams are gone, its rows kept.
  h.bq.state.streams.clear();
  const restarted = h.start(all);
  await restarted.drain();
  // Lost again while running: what was appended is found by the query too.
  h.bq.state.streams.clear();
  restarted.add([message(40, event(40)), message(41, event(41))], 42n);
  await restarted.drain();
  await restarted.close();
  assert.equal(h.stats.streamsLost, 0);
  assert.equal(h.stats.rewritten, 0);
  assert.deepEqual(stored(h).sort((a, b) => a - b), range(0, 42));
  assert.ok(h.stats.skipped >= before, `skipped ${h.stats.skipped}`);
});

Deno.test("createPartitionWriter() falls back to at least once, and says so, when the stream is gone and BigQuery cannot be asked", async () => {
  const h = harness();
  h.bq.state.canQuery = false;
  const all = messages(12);
  const crashed = h.start(all, {
    events: { acknowledged: () => void crashed.stop() },
  });
  await crashed.stopped;
  const before = stored(h).length;
  // The local BigQuery restarted: its write streams are gone, its rows kept.
  h.bq.state.streams.clear();
  const restarted = h.start(all);
  await restarted.drain();
  await restarted.close();
  assert.equal(h.stats.streamsLost, 1);
  assert.deepEqual([...new Set(stored(h))].sort((a, b) => a - b), range(0, 12));
  assert.ok(stored(h).length <= 12 + before, "at most the gap twice");
});

Deno.test("createPartitionWriter() dead-letters exactly the rows BigQuery refuses, with a commit past each", async () => {
  const h = harness();
  h.bq.state.refuse = (row) => row.kafka_offset === 2 || row.kafka_offset === 6;
  const all = messages(10);
  const writer = h.start(all);
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), [0, 1, 3, 4, 5, 7, 8, 9]);
  assert.deepEqual(h.letters.map((letter) => letter.headers["source.offset"]), ["2", "6"]);
  for (const letter of h.letters) {
    assert.equal(letter.headers["error.kind"], "rejected-by-bigquery");
    assert.match(String(letter.headers.error), /^Cannot store event: invalid value in /);
  }
  // Nothing after a refused row was appended before a commit past it.
  const offsets = h.group.log.map((entry) => entry.offset);
  assert.ok(offsets.includes(3n) && offsets.includes(7n), `commits at ${offsets}`);
  assert.equal(h.stats.deadLettered["rejected-by-bigquery"], 2);
  const probes = [...h.bq.state.streams.values()].filter((stream) => stream.pending);
  assert.ok(probes.length > 0, "refused rows were found in a probe stream");
  assert.equal(probes.flatMap((stream) => stream.rows).length > 0, true);
});

Deno.test("createPartitionWriter() refused rows, then a crash: the re-read refuses them again, no row twice", async () => {
  const h = harness();
  h.bq.state.refuse = (row) => row.kafka_offset % 5 === 1;
  const all = messages(30);
  for (let life = 0; life < 4; life++) {
    let acknowledged = 0;
    const writer = h.start(all, {
      events: { acknowledged: () => void (++acknowledged === 2 && life < 3 && writer.stop()) },
    });
    await Promise.race([writer.stopped, writer.drain()]);
    await writer.close();
  }
  assert.deepEqual(stored(h).sort((a, b) => a - b), range(0, 30).filter((i) => i % 5 !== 1));
});

Deno.test("createPartitionWriter() blocks instead of dead-lettering when every row is refused by a table that does not fit", async () => {
  const h = harness();
  h.bq.state.refuse = () => true;
  h.bq.state.schemaProblem = "column 'artist' is INT64 in the table, STRING in the rows";
  const writer = h.start(messages(6));
  await waitUntil(
    "blocked",
    () => h.blocked.some((problem) => problem?.reason === "schema-mismatch"),
  );
  assert.equal(h.letters.length, 0);
  assert.equal(h.group.committed.get(0)?.offset ?? 0n, 0n, "nothing committed");
  // Fixed: the rows go in, nothing was dead-lettered.
  h.bq.state.refuse = () => false;
  h.bq.state.schemaProblem = undefined;
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 6));
  assert.equal(h.letters.length, 0);
  assert.equal(h.blocked.at(-1), undefined, "unblocked");
});

Deno.test("createPartitionWriter() dead-letters every row when each is refused but the table fits", async () => {
  const h = harness();
  h.bq.state.refuse = () => true;
  const writer = h.start(messages(3));
  await writer.drain();
  await writer.close();
  assert.equal(h.letters.length, 3);
  assert.equal(h.blocked.filter((problem) => problem !== undefined).length, 0);
});

Deno.test("createPartitionWriter() creates a dropped table again and writes the rows since the last commit into it", async () => {
  const h = harness({ createTable: true });
  const all = messages(20);
  const writer = h.start(all.slice(0, 10));
  await writer.drain();
  h.bq.state.exists = false; // dropped
  writer.add(all.slice(10), 20n);
  await writer.drain();
  await writer.close();
  assert.equal(h.bq.state.created, 1);
  assert.deepEqual(stored(h), range(10, 20), "the new table holds everything after the drop");
  assert.equal(h.letters.length, 0);
});

Deno.test("createPartitionWriter() asks the re-created table which rows it holds: appends sent after it came back are not written twice", async () => {
  const h = harness({ createTable: true });
  h.bq.state.streamsFollowName = true;
  const table = h.context().table;
  h.bq.state.beforeAppend = (n) => {
    if (n !== 3) return;
    // Another partition found the table dropped and created it again while
    // this writer's appends were on their way: they land in the new table.
    h.bq.state.exists = false;
    void h.bq.destination.createTable();
    table.createdAt = h.bq.state.generation;
  };
  const all = messages(24);
  const writer = h.start(all);
  await writer.drain();
  await writer.close();
  assert.equal(h.bq.state.created, 1, "the fault happened");
  const offsets = stored(h);
  assert.equal(new Set(offsets).size, offsets.length, `no row twice: ${offsets}`);
  const first = Math.min(...offsets);
  assert.ok(first <= 8, `the new table holds every row since the last commit, from ${first}`);
  assert.deepEqual([...offsets].sort((a, b) => a - b), range(first, 24));
  assert.equal(h.letters.length, 0);
});

Deno.test("createPartitionWriter() whose stream another consumer finalized (it took the partition over) writes and commits nothing more until the group says who owns it", async () => {
  const h = harness();
  const all = messages(16);
  const writer = h.start(all.slice(0, 8), { holdCheckMs: 5 });
  await writer.drain();
  assert.equal(stored(h).length, 8);
  // A new owner recovered the partition: it finalized this writer's stream
  // (fencing it off) and committed its own stream as the marker.
  for (const stream of h.bq.state.streams.values()) stream.finalized = true;
  h.group.committed.set(0, { offset: 8n, metadata: '{"s":"theirs","r":0}' });
  const commits = h.group.log.length;
  const streams = h.bq.state.streamsCreated;
  const finalizes = h.bq.state.finalizeCalls;
  writer.add(all.slice(8), 16n);
  await waitUntil("the refused append settled", () => h.bq.state.finalizeCalls > finalizes);
  // Several checks of the group's position (every 5 ms) find the new owner's.
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(stored(h).length, 8, "nothing stored that the new owner stores");
  assert.equal(h.bq.state.streamsCreated, streams, "no new stream");
  assert.equal(h.group.log.length, commits, "no commit");
  assert.equal(await writer.keep(), false, "the group's position is the new owner's");
  await writer.stop();
  assert.equal(stored(h).length, 8);
});

Deno.test("createPartitionWriter() whose stream was finalized while the group's position stayed its own goes on after a check, once", async () => {
  const h = harness();
  const all = messages(16);
  const writer = h.start(all.slice(0, 8), { holdCheckMs: 20 });
  await writer.drain();
  // Finalized, but nobody committed after this writer: no one took over
  // (a one-member group gets no rebalance to end the hold).
  for (const stream of h.bq.state.streams.values()) stream.finalized = true;
  const streams = h.bq.state.streamsCreated;
  writer.add(all.slice(8), 16n);
  await waitUntil("a new stream after the check", () => h.bq.state.streamsCreated > streams);
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 16), "each row once, none lost");
  assert.equal(h.group.committed.get(0)?.offset, 16n);
});

Deno.test("createPartitionWriter() waits, blocked, for a missing table it may not create", async () => {
  const h = harness({ createTable: false });
  const writer = h.start(messages(8));
  await writer.drain();
  h.bq.state.exists = false;
  writer.add([message(8, event(8)), message(9, event(9))], 10n);
  await waitUntil(
    "blocked",
    () => h.blocked.some((problem) => problem?.reason === "table-missing"),
  );
  assert.equal(h.group.committed.get(0)?.offset, 8n, "offsets kept");
  h.bq.state.exists = true; // someone created it again
  h.bq.state.generation++;
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), [...range(0, 8), 8, 9]);
  assert.equal(h.letters.length, 0);
});

Deno.test("createPartitionWriter() blocks on refused access and goes on once it is granted", async () => {
  const h = harness();
  h.bq.state.denied = true;
  const writer = h.start(messages(4));
  await waitUntil(
    "blocked",
    () => h.blocked.some((problem) => problem?.reason === "permission-denied"),
  );
  assert.equal(h.letters.length, 0);
  h.bq.state.denied = false;
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 4));
});

Deno.test("createPartitionWriter() with insertAll: no markers, refused rows dead-lettered", async () => {
  const h = harness({ exactlyOnce: false });
  h.bq.state.refuse = (row) => row.kafka_offset === 1;
  const writer = h.start(messages(5));
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), [0, 2, 3, 4]);
  assert.equal(h.letters.length, 1);
  assert.ok(h.group.log.every((entry) => entry.metadata === undefined));
  assert.equal(h.group.committed.get(0)?.offset, 5n);
});

Deno.test("createPartitionWriter() holds rows for maxWaitMs, and drain() flushes them at once", async () => {
  const h = harness();
  const writer = h.start(messages(2), {
    limits: { maxRows: 100, maxBytes: 1_000_000, maxWaitMs: 60_000, concurrency: 1 },
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(stored(h).length, 0);
  await writer.drain();
  assert.deepEqual(stored(h), [0, 1]);
  await writer.close();
});

Deno.test("createPartitionWriter() ignores messages below the committed offset", async () => {
  const h = harness();
  h.group.committed.set(0, { offset: 5n, metadata: null });
  const writer = createPartitionWriter(0, h.group.io(0), h.context());
  writer.add(messages(8), 8n);
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), [5, 6, 7]);
});

Deno.test("createPartitionWriter() stops without committing what is not stored", async () => {
  const h = harness();
  h.bq.state.faults = Array.from({ length: 1_000 }, () => "unavailable" as const);
  const writer = h.start(messages(4));
  await waitUntil("a retry", () => h.stats.retries > 0);
  await writer.stop();
  assert.equal(writer.held, 4);
  assert.ok((h.group.committed.get(0)?.offset ?? 0n) === 0n);
});

Deno.test("createPartitionWriter() sends a failed append again on the same stream: no new stream per failure", async () => {
  const h = harness();
  h.bq.state.faults = [
    ...Array.from({ length: 20 }, (): "unavailable" => "unavailable"),
    "lose-answer",
    "lose-answer",
    "unavailable",
  ];
  const writer = h.start(messages(30, [4]));
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 30).filter((i) => i !== 4));
  assert.equal(h.bq.state.streamsCreated, 1, "one write stream for 23 failed appends");
  assert.ok(h.stats.resent >= 23, `resent ${h.stats.resent}`);
  assert.equal(h.stats.streamsLost, 0);
});

Deno.test("createPartitionWriter() creates streams within its allowance when streams keep going away", async () => {
  const h = harness();
  let clock = 0;
  const budget = createStreamBudget({ burst: 2, refillMs: 60_000, now: () => clock });
  const created: string[] = [];
  // The first two streams go away at their first append.
  h.bq.state.faults = ["gone", "gone"];
  const writer = h.start(messages(8), {
    streamBudget: budget,
    events: { streamCreated: (_partition, kind) => void created.push(kind) },
  });
  await waitUntil("the allowance to be used up", () => created.length >= 2);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(created.length, 2, "no third stream before the refill");
  assert.ok(budget.waitMs() > 0);
  assert.deepEqual(stored(h), []);
  clock += 60_000;
  await writer.drain();
  await writer.close();
  assert.equal(created.length, 3);
  assert.deepEqual([...new Set(stored(h))].sort((a, b) => a - b), range(0, 8));
});

Deno.test("createPartitionWriter() marks a cleanly finalized stream in the marker; the next owner does not finalize it again", async () => {
  const h = harness();
  h.bq.state.refuseRefinalize = true;
  const all = messages(20);
  const first = h.start(all.slice(0, 10));
  await first.drain();
  await first.close();
  const marker = parseMarker(h.group.committed.get(0)?.metadata);
  assert.equal(marker?.finalized, true);
  assert.equal(marker?.row, 10);
  assert.equal(h.group.committed.get(0)?.offset, 10n);
  const finalizes = h.bq.state.finalizeCalls;
  const failed: unknown[] = [];
  const second = h.start(all, { events: { failed: (_p, error) => void failed.push(error) } });
  await second.drain();
  await second.close();
  assert.deepEqual(failed, []);
  assert.deepEqual(stored(h), range(0, 20));
  assert.equal(h.bq.state.finalizeCalls, finalizes + 1, "only its own stream finalized");
});

Deno.test("createPartitionWriter() after a decoder change asks BigQuery which offsets it holds instead of counting", async () => {
  const h = harness();
  // The old release dead-lettered events of even users; the new one stores them.
  const strict: Decoder = {
    version: "1",
    decode(topic, partition, message, ingestedAt) {
      const decoded = decodeMessage(topic, partition, message, ingestedAt);
      if (decoded.row === undefined || decoded.row.user_id % 2 === 1) return decoded;
      const failure = failureOf(new EventError("'user_id' must be odd", "user_id"));
      return { letter: deadLetter(message, topic, partition, failure), kind: failure.kind };
    },
  };
  const lenient: Decoder = { version: "2", decode: decodeMessage };
  const all = messages(40);
  let acknowledged = 0;
  const crashed = h.start(all, {
    decoder: strict,
    limits: { maxRows: 3, maxBytes: 1_000_000, maxWaitMs: 1, concurrency: 3 },
    events: { acknowledged: () => void (++acknowledged === 4 && crashed.stop()) },
  });
  await crashed.stopped;
  const before = stored(h);
  assert.ok(before.length > 0 && before.every((offset) => (1_000 + offset) % 2 === 1));
  const committed = h.group.committed.get(0)!.offset;
  assert.ok(committed < 40n);
  assert.ok(
    before.some((offset) => BigInt(offset) >= committed),
    "rows stored after the committed offset",
  );
  const restarted = h.start(all, { decoder: lenient });
  await restarted.drain();
  await restarted.close();
  // Every offset once: the old release's rows are kept, the rest written by the new one.
  assert.deepEqual(
    stored(h).sort((a, b) => a - b).slice(0),
    [
      ...range(0, 40).filter((i) => BigInt(i) < committed && (1_000 + i) % 2 === 1),
      ...range(0, 40).filter((i) => BigInt(i) >= committed),
    ].sort((a, b) => a - b),
  );
  assert.equal(parseMarker(h.group.committed.get(0)?.metadata)?.version, "2");
});

/** The group's io for partition 0, with the log start and seeks a consumer has. */
function consumerIO(h: Harness, logStart = 0n) {
  const seeks: bigint[] = [];
  return {
    seeks,
    io: {
      ...h.group.io(0),
      logStart: () => Promise.resolve(logStart),
      seek: (o: bigint) => void seeks.push(o),
    },
  };
}

Deno.test("createPartitionWriter() drops a stale batch fetched before a rebalance and fetches again from the committed offset", async () => {
  const h = harness();
  const all = messages(30, [4]);
  // A first owner commits 0..7, then crashes with appends acknowledged and not committed.
  let acknowledged = 0;
  let crashAt = Infinity;
  const crashed = createPartitionWriter(
    0,
    h.group.io(0),
    h.context({
      events: { acknowledged: () => void (++acknowledged === crashAt && crashed.stop()) },
    }),
  );
  crashed.add(all.slice(0, 8), 30n);
  await crashed.drain();
  crashAt = acknowledged + 2;
  crashed.add(all.slice(8), 30n);
  await crashed.stopped;
  const committed = h.group.committed.get(0)!.offset;
  assert.ok(committed > 0n && committed < 20n, `committed ${committed}`);
  assert.ok(parseMarker(h.group.committed.get(0)!.metadata) !== undefined);

  // After the rebalance, a fetch made before it (from the old position, past
  // the commit) arrives first; the fetch from the committed offset after it.
  const { io, seeks } = consumerIO(h);
  const writer = createPartitionWriter(0, io, h.context());
  writer.add(all.slice(20), 30n, { fetchedFrom: 20n });
  await waitUntil("a seek", () => seeks.length > 0);
  assert.deepEqual(seeks, [committed], "fetched again from the committed offset");
  writer.add(all.slice(Number(committed)), 30n, { fetchedFrom: committed });
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h).sort((a, b) => a - b), range(0, 30).filter((i) => i !== 4));
  assert.equal(h.group.committed.get(0)?.offset, 30n);
  assert.equal(h.stats.staleBatches, 1);
  assert.ok(h.stats.skipped > 0, "the rows stored before the crash were skipped, not lost");
});

Deno.test("createPartitionWriter() drops a stale batch that leaves a gap while running, and takes the re-fetch", async () => {
  const h = harness();
  const all = messages(20);
  const { io, seeks } = consumerIO(h);
  const writer = createPartitionWriter(0, io, h.context());
  writer.add(all.slice(0, 10), 20n, { fetchedFrom: 0n });
  await writer.drain();
  writer.add(all.slice(15), 20n, { fetchedFrom: 15n }); // stale: 10..14 never came
  await waitUntil("a seek", () => seeks.length > 0);
  assert.deepEqual(seeks, [10n]);
  assert.equal(h.group.committed.get(0)?.offset, 10n, "nothing committed past the gap");
  writer.add(all.slice(10), 20n, { fetchedFrom: 10n });
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 20));
  assert.equal(h.group.committed.get(0)?.offset, 20n);
});

Deno.test("createPartitionWriter() takes a gap that retention made, as the log start says", async () => {
  const h = harness();
  h.group.committed.set(0, { offset: 3n, metadata: null });
  const { io, seeks } = consumerIO(h, 8n);
  const writer = createPartitionWriter(0, io, h.context());
  writer.add(messages(12).slice(8), 12n, { fetchedFrom: 8n });
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(8, 12));
  assert.deepEqual(seeks, []);
  assert.equal(h.stats.staleBatches, 0);
});

Deno.test("createPartitionWriter() takes a batch fetched from before its first message (control records)", async () => {
  const h = harness();
  h.group.committed.set(0, { offset: 5n, metadata: null });
  const { io, seeks } = consumerIO(h);
  const writer = createPartitionWriter(0, io, h.context());
  writer.add(messages(10).slice(7), 10n, { fetchedFrom: 5n });
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), [7, 8, 9]);
  assert.deepEqual(seeks, []);
});

Deno.test("createPartitionWriter() keep(): a writer whose last commit is still the group's keeps its stream", async () => {
  const h = harness();
  const all = messages(20);
  const writer = h.start(all.slice(0, 10));
  await writer.drain();
  assert.equal(await writer.keep(), true);
  writer.add(all.slice(10), 20n);
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 20));
  assert.equal(h.bq.state.streamsCreated, 1, "one stream across the rebalance");
});

Deno.test("createPartitionWriter() keep(): false once another owner committed, and nothing of the kept writer is committed after", async () => {
  const h = harness();
  const all = messages(20);
  const writer = h.start(all.slice(0, 10));
  await writer.drain();
  // Another member owned the partition meanwhile and committed further.
  const other = createPartitionWriter(0, h.group.io(0), h.context());
  other.add(all.slice(10, 15), 20n);
  await other.drain();
  await other.close();
  const theirs = h.group.committed.get(0)!;
  assert.equal(theirs.offset, 15n);
  assert.equal(await writer.keep(), false);
  await writer.stop();
  assert.deepEqual(h.group.committed.get(0), theirs);
  assert.deepEqual(stored(h), range(0, 15));
});

/** Messages 0..count-1 whose events carry `fields(i)` beyond the core ones. */
function evolving(count: number, fields: (i: number) => Record<string, unknown>): SourceMessage[] {
  return Array.from({ length: count }, (_, i) => message(i, event(i, fields(i))));
}

Deno.test("createPartitionWriter() adds columns for new fields and writes them in a stream that knows them", async () => {
  const h = harness();
  const all = evolving(12, (i) => i < 6 ? {} : { country: "fr", duration_ms: 200 + i });
  const writer = h.start(all);
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 12));
  assert.equal(h.letters.length, 0);
  assert.equal(h.bq.state.columnsAdded, 2);
  assert.deepEqual(
    h.bq.state.columns.slice(-2).map(({ name, type, mode }) => `${name} ${type} ${mode}`),
    ["country STRING NULLABLE", "duration_ms INT64 NULLABLE"],
  );
  assert.deepEqual(h.bq.state.table[11]!.fields, { country: "fr", duration_ms: 211 });
  assert.equal(h.bq.state.table[0]!.fields, undefined);
  assert.equal(h.group.committed.get(0)?.offset, 12n);
});

Deno.test("createPartitionWriter() dead-letters an event whose field conflicts with its column's type, and goes on", async () => {
  const h = harness();
  const all = evolving(10, (i) => ({ duration_ms: i === 4 || i === 7 ? "long" : 1_000 + i }));
  const writer = h.start(all);
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 10).filter((i) => i !== 4 && i !== 7));
  assert.deepEqual(h.letters.map((letter) => letter.headers["source.offset"]), ["4", "7"]);
  const letter = h.letters[0]!;
  assert.equal(letter.headers["error.kind"], "schema-conflict");
  assert.equal(letter.headers["error.field"], "duration_ms");
  assert.equal(letter.headers["error.column_type"], "INT64");
  assert.equal(letter.headers["error.value_type"], "STRING");
  assert.equal(
    letter.headers.error,
    "Cannot store event: 'duration_ms' is STRING but its column is INT64",
  );
  assert.equal(h.stats.deadLettered["schema-conflict"], 2);
});

Deno.test("createPartitionWriter() stores each row once across crashes while columns are added and conflicts dead-lettered", async () => {
  const { random } = seededRandom("schema crashes");
  for (let round = 0; round < 20; round++) {
    const h = harness();
    // Fields appear mid-run; offset 30 and 41 carry a value of another type.
    const all = evolving(
      50,
      (i) =>
        i < 10
          ? {}
          : i < 25
          ? { country: "ng" }
          : { country: i === 30 ? 7 : "ng", duration_ms: i === 41 ? 0.5 : 200 + i },
    );
    for (let life = 0; life < 5; life++) {
      const crashAt = 1 + Math.floor(random() * 5);
      let acknowledged = 0;
      const writer = h.start(all, {
        limits: {
          maxRows: 1 + Math.floor(random() * 7),
          maxBytes: 1_000_000,
          maxWaitMs: 1,
          concurrency: 1 + Math.floor(random() * 3),
        },
        events: {
          acknowledged() {
            if (life < 4 && ++acknowledged === crashAt) void writer.stop();
          },
        },
      });
      if (life < 4) {
        await Promise.race([writer.stopped, writer.drain()]);
        await writer.stop();
      } else {
        await writer.drain();
        await writer.close();
      }
    }
    const offsets = stored(h).sort((a, b) => a - b);
    assert.deepEqual(offsets, range(0, 50).filter((i) => i !== 30 && i !== 41), `round ${round}`);
    const lettered = new Set(h.letters.map((letter) => Number(letter.headers["source.offset"])));
    assert.deepEqual([...lettered].sort((a, b) => a - b), [30, 41], `round ${round}`);
    assert.equal(h.bq.state.columnsAdded, 2);
    assert.equal(h.group.committed.get(0)?.offset, 50n);
  }
});

Deno.test("createPartitionWriter() with --schema-evolution extra-column keeps the fields in one column", async () => {
  const h = harness();
  const all = evolving(6, (i) => i < 3 ? {} : { device: { os: "ios" }, country: "fr" });
  const writer = h.start(all, { decoder: playDecoder(undefined, "extra-column") });
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 6));
  assert.deepEqual(h.bq.state.columns.map((column) => column.name).slice(-1), ["extra"]);
  assert.equal(h.bq.state.columns.at(-1)?.type, "JSON");
  assert.deepEqual(h.bq.state.table[5]!.fields, {
    extra: { device: { os: "ios" }, country: "fr" },
  });
});

Deno.test("createPartitionWriter() with --schema-evolution off drops the fields and adds no column", async () => {
  const h = harness();
  const all = evolving(6, () => ({ country: "fr" }));
  const writer = h.start(all, { decoder: playDecoder(undefined, "off") });
  await writer.drain();
  await writer.close();
  assert.deepEqual(stored(h), range(0, 6));
  assert.equal(h.bq.state.columnsAdded, 0);
  assert.ok(h.bq.state.table.every((row) => row.fields === undefined));
});

Deno.test("createPartitionWriter() resumes fetching after a Kafka call that needed retries, even with no append left to make", async () => {
  const h = harness();
  const waits: boolean[] = [];
  let calls = 0;
  const io = h.group.io(0);
  // The commit after the last append fails twice (a rebalance), then works.
  const writer = createPartitionWriter(
    0,
    {
      ...io,
      commit(offset, metadata) {
        calls++;
        if (offset === 6n && calls <= 4) {
          return Promise.reject(new Error("The group is rebalancing"));
        }
        return io.commit(offset, metadata);
      },
    },
    h.context({
      limits: { maxRows: 6, maxBytes: 1_000_000, maxWaitMs: 1, concurrency: 1 },
      events: { backoff: (_partition, waiting) => void waits.push(waiting) },
    }),
  );
  writer.add(messages(6), 6n);
  await writer.drain();
  assert.equal(h.group.committed.get(0)?.offset, 6n);
  assert.deepEqual(waits, [true, false], "waiting, then fetching again");
  await writer.close();
});

/** A writer whose commits Kafka refuses for membership while `commits.refuse` is set. */
function refusingCommits(h: Harness) {
  const io = h.group.io(0);
  const commits = { refuse: false, refused: 0 };
  const writer = createPartitionWriter(
    0,
    {
      ...io,
      commit(offset, metadata) {
        if (commits.refuse) {
          commits.refused++;
          return Promise.reject(
            Object.assign(new Error("unknown member"), { type: "UNKNOWN_MEMBER_ID" }),
          );
        }
        return io.commit(offset, metadata);
      },
    },
    h.context({ isMembershipLost: isMembershipError }),
  );
  return { writer, commits };
}

Deno.test("createPartitionWriter() holds commits after a membership error until keep() finds the partition still its own", async () => {
  const h = harness();
  const { writer, commits } = refusingCommits(h);
  writer.add(messages(4), 10n);
  await writer.drain();
  commits.refuse = true;
  writer.add(messages(10).slice(4), 10n);
  await waitUntil("a refused commit", () => commits.refused > 0);
  commits.refuse = false;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(commits.refused, 1, "no retry while held");
  assert.equal(h.group.committed.get(0)?.offset, 4n, "nothing committed while held");
  assert.equal(await writer.keep(), true);
  await writer.drain();
  assert.equal(h.group.committed.get(0)?.offset, 10n);
  await writer.close();
  assert.deepEqual(stored(h), range(0, 10));
});

Deno.test("createPartitionWriter() whose commit was held stops without committing when keep() finds another owner's position", async () => {
  const h = harness();
  const { writer, commits } = refusingCommits(h);
  writer.add(messages(4), 10n);
  await writer.drain();
  // Frozen past its session: its commit is refused, and another member
  // takes the partition over and commits further.
  commits.refuse = true;
  writer.add(messages(10).slice(4), 10n);
  await waitUntil("a refused commit", () => commits.refused > 0);
  const theirs = { offset: 9n, metadata: '{"s":"theirs","r":5}' };
  h.group.committed.set(0, theirs);
  // It joins the group again (its commits would pass now) and is given the partition.
  commits.refuse = false;
  assert.equal(await writer.keep(), false);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(h.group.committed.get(0), theirs, "the other owner's commit stays");
  await writer.stop();
});

/** Messages 0..count-1 of good events carrying `country`. */
function withCountry(count: number): SourceMessage[] {
  return Array.from({ length: count }, (_, i) => message(i, event(i, { country: "ng" })));
}

/** Drops column `name` of the fake table, as someone would by hand. */
function dropColumn(h: Harness, name: string): Column | undefined {
  const column = h.bq.state.columns.find((known) => known.name === name);
  h.bq.state.columns = h.bq.state.columns.filter((known) => known.name !== name);
  return column;
}

for (const mismatch of ["real", "local"] as const) {
  Deno.test(`createPartitionWriter() goes on when a column is dropped under its stream (${mismatch} BigQuery): the column added again, each row once`, async () => {
    const h = harness();
    h.bq.state.schemaMismatch = mismatch;
    h.bq.state.beforeAppend = (n) => {
      if (n === 3) dropColumn(h, "country");
    };
    const writer = h.start(withCountry(24));
    await waitUntil("every row stored", () => h.group.committed.get(0)?.offset === 24n);
    await writer.close();
    assert.deepEqual([...stored(h)].sort((a, b) => a - b), range(0, 24));
    assert.ok(h.bq.state.columns.some((column) => column.name === "country"), "added again");
    assert.equal(h.bq.state.columnsAdded, 2);
    assert.equal(h.letters.length, 0);
    assert.ok(h.bq.state.table.every((row) => row.fields?.country === "ng"));
  });
}

Deno.test("createPartitionWriter() re-fits held rows to a column retyped under its stream: values that no longer fit are schema-conflict letters", async () => {
  const h = harness();
  const all = Array.from(
    { length: 24 },
    (_, i) => message(i, event(i, { duration_ms: 1_000 + i })),
  );
  h.bq.state.beforeAppend = (n) => {
    if (n !== 3) return;
    // Dropped and added again as STRING, as someone would by hand.
    dropColumn(h, "duration_ms");
    h.bq.state.columns.push({
      name: "duration_ms",
      type: "STRING",
      mode: "NULLABLE",
      description: "",
    });
  };
  const writer = h.start(all);
  await waitUntil("every message settled", () => h.group.committed.get(0)?.offset === 24n);
  await writer.close();
  const rows = stored(h);
  assert.equal(new Set(rows).size, rows.length, "no row twice");
  const lettered = h.letters.map((letter) => letter.headers?.["error.kind"]);
  assert.ok(lettered.length > 0 && lettered.every((kind) => kind === "schema-conflict"));
  assert.equal(rows.length + h.letters.length, 24);
  for (const letter of h.letters) {
    assert.equal(letter.headers?.["error.column_type"], "STRING");
    assert.equal(letter.headers?.["error.value_type"], "INT64");
  }
});

Deno.test("createPartitionWriter() blocks, creating no stream, while a core column is missing, and goes on once it is back: each row once", async () => {
  const h = harness();
  let songName: Column | undefined;
  h.bq.state.beforeAppend = (n) => {
    if (n === 3) songName = dropColumn(h, "song_name");
  };
  const writer = h.start(messages(24), { schemaCheckMs: 1 });
  await waitUntil("blocked", () => h.blocked.at(-1)?.reason === "schema-mismatch");
  assert.match(h.blocked.at(-1)!.detail, /column 'song_name' is missing/);
  const created = h.bq.state.streamsCreated;
  const looked = h.bq.state.columnLookups;
  await waitUntil("five more looks at the table", () => h.bq.state.columnLookups >= looked + 5);
  assert.equal(h.bq.state.streamsCreated, created, "no stream created while blocked");
  h.bq.state.columns.splice(4, 0, songName!);
  await waitUntil("every row stored", () => h.group.committed.get(0)?.offset === 24n);
  await writer.close();
  assert.deepEqual([...stored(h)].sort((a, b) => a - b), range(0, 24));
  assert.equal(h.blocked.at(-1), undefined, "unblocked");
});

Deno.test("createPartitionWriter() reads the table's columns again when an append's answer says the schema changed", async () => {
  const h = harness();
  h.bq.state.schemaUpdatedFrom = 2;
  const writer = h.start(messages(12), { schemaCheckMs: 3_600_000 });
  await waitUntil("every row stored", () => h.group.committed.get(0)?.offset === 12n);
  await writer.close();
  assert.deepEqual(stored(h), range(0, 12));
  // Once before the first rows, then after the answers that said so.
  assert.ok(h.bq.state.columnLookups >= 2, `${h.bq.state.columnLookups} lookups`);
});

Deno.test("createPartitionWriter() stopped while an append fails asks for no pause of fetching", async () => {
  const h = harness();
  h.bq.state.faults = ["unavailable"];
  const waits: boolean[] = [];
  const writer: ReturnType<typeof h.start> = h.start(messages(4), {
    events: {
      // Replaced (a rebalance) by the time its failed append is handled.
      retry: () => void writer.stop(),
      backoff: (_partition, isWaiting) => waits.push(isWaiting),
    },
  });
  await writer.stopped;
  assert.ok(h.stats.retries >= 1, "the append failed");
  assert.deepEqual(waits, [], "a stopped writer leaves fetching alone");
});
