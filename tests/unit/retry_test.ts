import assert from "node:assert/strict";
import { backoffDelay, retry, type RetryOptions, sleep } from "../../shared/ops/retry.ts";

const busy = () => new Error("busy");

/** A `sleep` that records delays and returns at once. */
function fakeSleep(): { sleep: NonNullable<RetryOptions["sleep"]>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

/** `fn` failing with `errors` in turn, then resolving "ok"; counts calls. */
function failing(...errors: unknown[]): { fn: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    fn: () => {
      const error = errors[calls++];
      return error === undefined ? Promise.resolve("ok") : Promise.reject(error);
    },
    calls: () => calls,
  };
}

Deno.test("backoffDelay() grows by the factor until the cap", () => {
  const top = () => 0.9999999;
  const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) =>
    backoffDelay(attempt, { initialMs: 100, maxMs: 2_000, factor: 2, random: top })
  );
  assert.deepEqual(delays, [100, 200, 400, 800, 1_600, 2_000, 2_000]);
  assert.equal(backoffDelay(3, { initialMs: 10, factor: 3, random: top }), 90);
});

Deno.test("backoffDelay() uses 200 ms, factor 2 and a 10 s cap by default", () => {
  const top = () => 0.9999999;
  assert.equal(backoffDelay(1, { random: top }), 200);
  assert.equal(backoffDelay(2, { random: top }), 400);
  assert.equal(backoffDelay(50, { random: top }), 10_000);
  assert.equal(backoffDelay(5_000, { random: top }), 10_000); // no overflow to NaN
});

Deno.test("backoffDelay() jitters between half and all of the delay", () => {
  assert.equal(backoffDelay(1, { initialMs: 100, random: () => 0 }), 50);
  assert.equal(backoffDelay(1, { initialMs: 100, random: () => 0.5 }), 75);
  assert.equal(backoffDelay(20, { maxMs: 5_000, random: () => 0 }), 2_500);
  for (let i = 0; i < 1_000; i++) {
    const attempt = 1 + (i % 10);
    const full = Math.min(3_000, 100 * 2 ** (attempt - 1));
    const delay = backoffDelay(attempt, { initialMs: 100, maxMs: 3_000 });
    assert.ok(
      delay >= full / 2 && delay <= full,
      `attempt ${attempt}: ${delay} not in [${full / 2}, ${full}]`,
    );
  }
});

Deno.test("backoffDelay() rejects an attempt that is not a positive integer", () => {
  for (const attempt of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => backoffDelay(attempt), {
      name: "RangeError",
      message: `Cannot compute backoff: 'attempt' must be a positive integer, got ${attempt}`,
    });
  }
});

Deno.test("retry() returns the first success without waiting", async () => {
  const { sleep, delays } = fakeSleep();
  const { fn, calls } = failing();
  assert.equal(await retry(fn, { isTransient: () => true, sleep }), "ok");
  assert.equal(calls(), 1);
  assert.deepEqual(delays, []);
});

Deno.test("retry() retries transient errors with growing delays", async () => {
  const { sleep, delays } = fakeSleep();
  const { fn, calls } = failing(busy(), busy(), busy());
  const value = await retry(fn, {
    isTransient: () => true,
    sleep,
    initialMs: 10,
    maxMs: 1_000,
    random: () => 0.9999999,
  });
  assert.equal(value, "ok");
  assert.equal(calls(), 4);
  assert.deepEqual(delays, [10, 20, 40]);
});

Deno.test("retry() calls onRetry with the error, attempt number and delay", async () => {
  const { sleep, delays } = fakeSleep();
  const errors = [busy(), busy()];
  const seen: Array<[unknown, number, number]> = [];
  await retry(failing(...errors).fn, {
    isTransient: () => true,
    sleep,
    initialMs: 10,
    onRetry: (error, attempt, delayMs) => {
      seen.push([error, attempt, delayMs]);
    },
  });
  assert.deepEqual(seen.map(([, attempt]) => attempt), [1, 2]);
  assert.equal(seen[0]![0], errors[0]);
  assert.equal(seen[1]![0], errors[1]);
  assert.deepEqual(seen.map(([, , delay]) => delay), delays);
});

Deno.test("retry() waits for an async onRetry before sleeping", async () => {
  const order: string[] = [];
  await retry(failing(busy()).fn, {
    isTransient: () => true,
    onRetry: async () => {
      await Promise.resolve();
      order.push("onRetry done");
    },
    sleep: () => {
      order.push("sleep");
      return Promise.resolve();
    },
  });
  assert.deepEqual(order, ["onRetry done", "sleep"]);
});

Deno.test("retry() throws a non-transient error at once", async () => {
  const { sleep, delays } = fakeSleep();
  const fatal = new Error("table not found");
  const { fn, calls } = failing(busy(), fatal, busy());
  let retries = 0;
  await assert.rejects(
    retry(fn, {
      isTransient: (error) => error !== fatal,
      sleep,
      onRetry: () => {
        retries++;
      },
    }),
    fatal,
  );
  assert.equal(calls(), 2);
  assert.equal(retries, 1);
  assert.equal(delays.length, 1);
});

Deno.test("retry() gives up after maxAttempts with the last error", async () => {
  const { sleep, delays } = fakeSleep();
  const errors = [busy(), busy(), busy(), busy()];
  const { fn, calls } = failing(...errors);
  await assert.rejects(retry(fn, { isTransient: () => true, sleep, maxAttempts: 3 }), errors[2]);
  assert.equal(calls(), 3);
  assert.equal(delays.length, 2);
});

Deno.test("retry() with maxAttempts 1 does not retry", async () => {
  const { fn, calls } = failing(busy());
  await assert.rejects(retry(fn, { isTransient: () => true, maxAttempts: 1 }), /busy/);
  assert.equal(calls(), 1);
});

Deno.test("retry() stops when the signal aborts during the wait", async () => {
  const controller = new AbortController();
  const error = busy();
  let calls = 0;
  const started = performance.now();
  const result = retry(() => {
    calls++;
    return Promise.reject(error);
  }, {
    isTransient: () => true,
    signal: controller.signal,
    initialMs: 10_000,
    onRetry: () => {
      setTimeout(() => controller.abort(), 10);
    },
  });
  await assert.rejects(result, error);
  assert.equal(calls, 1);
  assert.ok(performance.now() - started < 1_000, "the wait was not cut short");
});

Deno.test("retry() does not retry once the signal is aborted", async () => {
  const controller = new AbortController();
  controller.abort();
  const { sleep, delays } = fakeSleep();
  const { fn, calls } = failing(busy(), busy());
  await assert.rejects(
    retry(fn, { isTransient: () => true, signal: controller.signal, sleep }),
    /busy/,
  );
  assert.equal(calls(), 1);
  assert.deepEqual(delays, []);
});

Deno.test("retry() passes the signal to sleep", async () => {
  const controller = new AbortController();
  const signals: Array<AbortSignal | undefined> = [];
  await retry(failing(busy()).fn, {
    isTransient: () => true,
    signal: controller.signal,
    sleep: (_ms, signal) => {
      signals.push(signal);
      return Promise.resolve();
    },
  });
  assert.deepEqual(signals, [controller.signal]);
});

Deno.test("sleep() waits about the given time", async () => {
  const started = performance.now();
  await sleep(30);
  assert.ok(performance.now() - started >= 29);
});

Deno.test("sleep() ends early when the signal aborts", async () => {
  const controller = new AbortController();
  const started = performance.now();
  setTimeout(() => controller.abort(), 10);
  await sleep(10_000, controller.signal);
  assert.ok(performance.now() - started < 1_000);
});

Deno.test("sleep() returns at once for an aborted signal", async () => {
  const started = performance.now();
  await sleep(10_000, AbortSignal.abort());
  assert.ok(performance.now() - started < 100);
});
