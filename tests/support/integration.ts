/**
 * `test()` for integration tests: `Deno.test` with a deadline. A test that
 * runs past its deadline fails with one line naming it, so a hang costs one
 * test, not the whole run. Every test in `tests/integration/` is declared
 * with it (`tests/unit/integration_tests_test.ts` checks).
 *
 * @module
 */

/** How long an integration test may run unless it says otherwise. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** A test definition with an optional deadline (`timeoutMs`, default {@linkcode DEFAULT_TIMEOUT_MS}). */
export interface IntegrationTest extends Deno.TestDefinition {
  /** Longest the test may run, in ms. */
  timeoutMs?: number;
}

/** Options of the `test(name, options, fn)` form. */
export interface TestOptions {
  /** Longest the test may run, in ms. */
  timeoutMs?: number;
}

type TestFn = (t: Deno.TestContext) => void | Promise<void>;

/**
 * Registers an integration test whose body fails once it ran longer than its
 * deadline.
 */
export function test(name: string, fn: TestFn): void;
export function test(name: string, options: TestOptions, fn: TestFn): void;
export function test(definition: IntegrationTest): void;
export function test(
  first: string | IntegrationTest,
  second?: TestFn | TestOptions,
  third?: TestFn,
): void {
  const timeoutMs = typeof first === "string"
    ? (typeof second === "object" ? second.timeoutMs : undefined)
    : first.timeoutMs;
  if (timeoutMs !== undefined && timeoutMs < 1_000) {
    const name = typeof first === "string" ? first : first.name;
    throw new RangeError(
      `Cannot register test "${name}" as 'timeoutMs' is in milliseconds: ${timeoutMs} is under a second`,
    );
  }
  if (typeof first !== "string") {
    const { timeoutMs, fn, ...rest } = first;
    Deno.test({ ...rest, fn: withDeadline(first.name, timeoutMs ?? DEFAULT_TIMEOUT_MS, fn) });
    return;
  }
  const fn = typeof second === "function" ? second : third;
  const options = typeof second === "object" ? second : {};
  if (fn === undefined) throw new TypeError(`Cannot register test "${first}": no function`);
  Deno.test(first, withDeadline(first, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, fn));
}

/**
 * Wraps `fn` so that it rejects after `timeoutMs` with an error naming the
 * test, whatever it is waiting for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withDeadline } from "./integration.ts";
 * const hangs = withDeadline("hangs", 10, () => new Promise<void>(() => {}));
 * await assert.rejects(hangs(), /"hangs" timed out after 0\.01 s/);
 * await withDeadline("ends", 1_000, () => {})(); // in time: resolves
 * ```
 */
export function withDeadline<A extends unknown[]>(
  name: string,
  timeoutMs: number,
  fn: (...args: A) => void | Promise<void>,
): (...args: A) => Promise<void> {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(
      `Cannot set a deadline as 'timeoutMs' must be a positive number: current value is ${timeoutMs}`,
    );
  }
  return async (...args) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Test "${name}" timed out after ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([fn(...args), deadline]);
    } finally {
      clearTimeout(timer);
    }
  };
}
