import assert from "node:assert/strict";
import {
  type Batcher,
  batchLength,
  createBatcher,
  flushReason,
} from "../../shared/sink/batcher.ts";

type Reason = "rows" | "bytes" | "time" | "drain";

interface Call<T> {
  items: T[];
  reason: Reason;
  at: number;
  /** Settles this flush (resolve, or reject with `error`). */
  finish: (error?: unknown) => void;
}

/** A batcher whose flushes wait until the test finishes them (or at once with `auto`). */
function recording<T>(
  options: {
    maxRows?: number;
    maxBytes?: number;
    maxWaitMs?: number;
    concurrency?: number;
    size?: (item: T) => number;
    auto?: boolean;
  } = {},
): { batcher: Batcher<T>; calls: Call<T>[] } {
  const calls: Call<T>[] = [];
  const batcher = createBatcher<T>({
    maxRows: options.maxRows ?? 1_000,
    maxBytes: options.maxBytes ?? 1_000_000,
    maxWaitMs: options.maxWaitMs ?? 10_000,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    size: options.size ?? (() => 1),
    flush: (items, reason) => {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      calls.push({
        items,
        reason,
        at: performance.now(),
        finish: (error) => error === undefined ? resolve() : reject(error),
      });
      if (options.auto) resolve();
      return promise;
    },
  });
  return { batcher, calls };
}

/** Tracks whether a promise settled, and how. */
function track(
  promise: Promise<unknown>,
): { state: "pending" | "resolved" | "rejected"; error?: unknown } {
  const status: { state: "pending" | "resolved" | "rejected"; error?: unknown } = {
    state: "pending",
  };
  promise.then(() => status.state = "resolved", (error) => {
    status.state = "rejected";
    status.error = error;
  });
  return status;
}

/** Lets pending promise callbacks and zero-delay timers run. */
function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("batchLength() takes as many items as fit both limits", () => {
  assert.equal(batchLength([40, 40, 40], { maxRows: 10, maxBytes: 100 }), 2);
  assert.equal(batchLength([40, 60, 1], { maxRows: 10, maxBytes: 100 }), 2);
  assert.equal(batchLength([1, 1, 1, 1], { maxRows: 3, maxBytes: 100 }), 3);
  assert.equal(batchLength([], { maxRows: 3, maxBytes: 100 }), 0);
});

Deno.test("batchLength() always takes at least one item, however large", () => {
  assert.equal(batchLength([500, 1], { maxRows: 10, maxBytes: 100 }), 1);
  assert.equal(batchLength([1, 500], { maxRows: 10, maxBytes: 100 }), 1);
});

Deno.test("flushReason() names the first limit reached", () => {
  const limits = { maxRows: 10, maxBytes: 100, maxWaitMs: 50 };
  assert.equal(flushReason({ rows: 0, bytes: 0, ageMs: 1_000 }, limits), undefined);
  assert.equal(flushReason({ rows: 9, bytes: 99, ageMs: 49 }, limits), undefined);
  assert.equal(flushReason({ rows: 10, bytes: 0, ageMs: 0 }, limits), "rows");
  assert.equal(flushReason({ rows: 1, bytes: 100, ageMs: 0 }, limits), "bytes");
  assert.equal(flushReason({ rows: 1, bytes: 1, ageMs: 50 }, limits), "time");
  assert.equal(flushReason({ rows: 10, bytes: 100, ageMs: 50 }, limits), "rows");
});

Deno.test("createBatcher() flushes when a batch reaches maxRows", async () => {
  const { batcher, calls } = recording<number>({ maxRows: 3, maxWaitMs: 20, auto: true });
  const added = track(batcher.add([1, 2]));
  await tick();
  assert.equal(calls.length, 0);
  assert.equal(added.state, "pending");
  await batcher.add([3, 4, 5, 6, 7]);
  assert.equal(added.state, "resolved");
  assert.deepEqual(calls.slice(0, 2).map((call) => [call.items, call.reason]), [
    [[1, 2, 3], "rows"],
    [[4, 5, 6], "rows"],
  ]);
  // The remaining item waits for its time limit.
  assert.deepEqual(calls.slice(2).map((call) => [call.items, call.reason]), [[[7], "time"]]);
});

Deno.test("createBatcher() flushes when a batch reaches maxBytes", async () => {
  const { batcher, calls } = recording<string>({
    maxBytes: 10,
    maxWaitMs: 20,
    size: (item) => item.length,
    auto: true,
  });
  await batcher.add(["aaaa", "bbbb", "cc"]);
  assert.deepEqual(calls.map((call) => [call.items, call.reason]), [[
    ["aaaa", "bbbb", "cc"],
    "bytes",
  ]]);
  calls.length = 0;
  // 12 bytes queued: the first batch holds what fits in 10.
  await batcher.add(["aaaaaa", "bbbbbb"]);
  assert.deepEqual(calls.map((call) => [call.items, call.reason]), [
    [["aaaaaa"], "bytes"],
    [["bbbbbb"], "time"],
  ]);
});

Deno.test("createBatcher() flushes an item larger than maxBytes alone", async () => {
  const big = "x".repeat(50);
  const { batcher, calls } = recording<string>({
    maxBytes: 10,
    maxWaitMs: 10,
    size: (item) => item.length,
    auto: true,
  });
  await batcher.add(["ab", big, "cd"]);
  assert.deepEqual(calls.map((call) => call.items), [["ab"], [big], ["cd"]]);
  assert.deepEqual(calls.map((call) => call.reason), ["bytes", "bytes", "time"]);
});

Deno.test("createBatcher() flushes on time after maxWaitMs", async () => {
  const { batcher, calls } = recording<number>({ maxWaitMs: 40, auto: true });
  const started = performance.now();
  const added = track(batcher.add([1]));
  await tick(10);
  assert.equal(calls.length, 0);
  assert.equal(added.state, "pending");
  await batcher.add([2]);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.items, [1, 2]);
  assert.equal(calls[0]!.reason, "time");
  assert.ok(calls[0]!.at - started >= 38, `flushed after ${calls[0]!.at - started} ms`);
  assert.equal(added.state, "resolved");
});

Deno.test("createBatcher() times a batch from its oldest item", async () => {
  const { batcher, calls } = recording<number>({ maxWaitMs: 50, auto: true });
  const started = performance.now();
  const first = batcher.add([1]);
  await tick(30);
  const second = batcher.add([2]); // must not restart the clock
  await Promise.all([first, second]);
  const waited = calls[0]!.at - started;
  assert.deepEqual(calls[0]!.items, [1, 2]);
  assert.ok(waited >= 48 && waited < 75, `flushed after ${waited} ms`);
});

Deno.test("createBatcher() resolves add() only after all its batches were flushed", async () => {
  const { batcher, calls } = recording<number>({ maxRows: 2 });
  const added = track(batcher.add([1, 2, 3, 4, 5]));
  await tick();
  assert.equal(calls.length, 1);
  calls[0]!.finish();
  await tick();
  assert.equal(calls.length, 2);
  assert.equal(added.state, "pending");
  calls[1]!.finish();
  await tick();
  assert.equal(added.state, "pending"); // [5] is still queued
  assert.equal(batcher.queued, 1);
  const drained = batcher.drain();
  await tick();
  assert.equal(added.state, "pending"); // [5] is in flight
  calls[2]!.finish();
  await drained;
  assert.equal(added.state, "resolved");
  assert.deepEqual(calls.map((call) => call.items), [[1, 2], [3, 4], [5]]);
});

Deno.test("createBatcher() keeps add() pending while its last batch is in flight", async () => {
  const { batcher, calls } = recording<number>({ maxRows: 2 });
  const added = track(batcher.add([1, 2, 3]));
  await tick();
  calls[0]!.finish();
  const drained = track(batcher.drain());
  await tick();
  assert.deepEqual(calls.map((call) => [call.items, call.reason]), [
    [[1, 2], "rows"],
    [[3], "drain"],
  ]);
  assert.equal(added.state, "pending");
  assert.equal(drained.state, "pending");
  calls[1]!.finish();
  await tick();
  assert.equal(added.state, "resolved");
  assert.equal(drained.state, "resolved");
});

Deno.test("createBatcher() rejects only the add() calls with items in a failed flush", async () => {
  const failure = new Error("insert failed");
  const { batcher, calls } = recording<string>({ maxRows: 2, concurrency: 4 });
  const a = track(batcher.add(["a1"]));
  const b = track(batcher.add(["b1", "b2", "b3"]));
  const c = track(batcher.add(["c1", "c2"]));
  await tick();
  assert.deepEqual(calls.map((call) => call.items), [["a1", "b1"], ["b2", "b3"], ["c1", "c2"]]);
  calls[0]!.finish(failure);
  calls[1]!.finish();
  calls[2]!.finish();
  await tick();
  assert.equal(a.state, "rejected");
  assert.equal(a.error, failure);
  assert.equal(b.state, "rejected"); // even though its other batch succeeded
  assert.equal(b.error, failure);
  assert.equal(c.state, "resolved");
});

Deno.test("createBatcher() rejects add() when a later batch of its items fails", async () => {
  const failure = new Error("second batch failed");
  const { batcher, calls } = recording<number>({ maxRows: 1 });
  const added = track(batcher.add([1, 2]));
  const other = track(batcher.add([3]));
  await tick();
  calls[0]!.finish();
  await tick();
  assert.equal(added.state, "pending");
  calls[1]!.finish(failure);
  await tick();
  assert.equal(added.state, "rejected");
  assert.equal(added.error, failure);
  // The batcher keeps working after a failure.
  calls[2]!.finish();
  await tick();
  assert.equal(other.state, "resolved");
});

Deno.test("createBatcher() never runs more flushes at once than its concurrency", async () => {
  for (const concurrency of [1, 2, 3]) {
    let running = 0;
    let most = 0;
    let batches = 0;
    const batcher = createBatcher<number>({
      maxRows: 1,
      maxBytes: 1_000,
      maxWaitMs: 10_000,
      concurrency,
      size: () => 1,
      flush: async () => {
        running++;
        batches++;
        most = Math.max(most, running);
        await tick(5);
        running--;
      },
    });
    const adds = [batcher.add([1, 2, 3]), batcher.add([4, 5]), batcher.add([6, 7, 8])];
    await tick();
    assert.equal(batcher.inFlight, concurrency);
    assert.equal(batcher.queued, 8 - concurrency);
    await Promise.all(adds);
    assert.equal(batches, 8);
    assert.equal(most, concurrency, `concurrency ${concurrency}`);
    assert.equal(batcher.inFlight, 0);
    assert.equal(batcher.queued, 0);
  }
});

Deno.test("createBatcher() does not poll while every flush slot is busy", async () => {
  let timers = 0;
  const setTimeoutBefore = globalThis.setTimeout;
  const counting = ((...args: Parameters<typeof setTimeout>) => {
    timers++;
    return setTimeoutBefore(...args);
  }) as typeof setTimeout;
  const { batcher, calls } = recording<number>({ maxWaitMs: 5 });
  const first = batcher.add([1]);
  await tick(20);
  assert.equal(calls.length, 1); // [1] is in flight and not finished
  globalThis.setTimeout = counting;
  let second: Promise<void>;
  try {
    second = batcher.add([2]); // already due when the slot frees up
    await new Promise((resolve) => setTimeoutBefore(resolve, 100));
  } finally {
    globalThis.setTimeout = setTimeoutBefore;
  }
  assert.ok(timers <= 2, `${timers} timers armed while the flush was blocked`);
  assert.equal(calls.length, 1);
  calls[0]!.finish();
  await first;
  await tick();
  // The waiting item is flushed as soon as the slot is free.
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[1]!.items, [2]);
  assert.equal(calls[1]!.reason, "time");
  calls[1]!.finish();
  await second;
});

Deno.test("drain() flushes what is queued at once and waits for flushes in flight", async () => {
  const { batcher, calls } = recording<number>({ maxRows: 2, maxWaitMs: 10_000 });
  const first = track(batcher.add([1, 2]));
  const queued = track(batcher.add([3]));
  await tick();
  assert.equal(calls.length, 1);
  assert.equal(batcher.queued, 1);
  const drained = track(batcher.drain());
  await tick();
  // Concurrency 1: [3] waits for the slot, but not for maxWaitMs.
  assert.equal(calls.length, 1);
  calls[0]!.finish();
  await tick();
  assert.equal(first.state, "resolved");
  assert.deepEqual(calls.map((call) => call.reason), ["rows", "drain"]);
  assert.equal(drained.state, "pending");
  assert.equal(queued.state, "pending");
  calls[1]!.finish();
  await tick();
  assert.equal(queued.state, "resolved");
  assert.equal(drained.state, "resolved");
});

Deno.test("drain() flushes in batches that respect the limits", async () => {
  const { batcher, calls } = recording<number>({ maxRows: 3, auto: true, concurrency: 2 });
  const added = batcher.add([1, 2]);
  await batcher.drain();
  await added;
  const more = batcher.add([3, 4, 5, 6, 7]);
  await batcher.drain();
  await more;
  assert.deepEqual(calls.map((call) => [call.items, call.reason]), [
    [[1, 2], "drain"],
    [[3, 4, 5], "rows"],
    [[6, 7], "drain"],
  ]);
});

Deno.test("drain() resolves at once when nothing is queued or in flight", async () => {
  const { batcher, calls } = recording<number>();
  await batcher.drain();
  assert.equal(calls.length, 0);
});

Deno.test("drain() resolves even when a flush fails", async () => {
  const failure = new Error("down");
  const { batcher, calls } = recording<number>();
  const added = batcher.add([1]);
  const drained = batcher.drain();
  await tick();
  calls[0]!.finish(failure);
  await assert.rejects(added, failure);
  await drained;
});

Deno.test("add() of no items resolves at once without flushing", async () => {
  const { batcher, calls } = recording<number>();
  await batcher.add([]);
  assert.equal(calls.length, 0);
  assert.equal(batcher.queued, 0);
});
