/**
 * `test()` for integration tests: `Deno.test` with a deadline. A test that
 * runs past its deadline fails with one line naming it, so a hang costs one
 * test, not the whole run. Every test in `tests/integration/` and
 * `tests/exclusive/` is declared with it (`tests/unit/integration_tests_test.ts`
 * checks).
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
  const name = typeof first === "string" ? first : first.name;
  const given = typeof first !== "string"
    ? first.timeoutMs
    : typeof second === "object"
    ? second.timeoutMs
    : undefined;
  const timeoutMs = given ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs < 1_000) {
    throw new RangeError(
      `Cannot register test "${name}" as 'timeoutMs' is in milliseconds: ${timeoutMs} is under a second`,
    );
  }
  if (typeof first !== "string") {
    const { timeoutMs: _, fn, ...rest } = first;
    Deno.test({ ...rest, fn: withDeadline(name, timeoutMs, fn) });
    return;
  }
  const fn = typeof second === "function" ? second : third;
  if (fn === undefined) throw new TypeError(`Cannot register test "${name}": no function`);
  Deno.test(name, withDeadline(name, timeoutMs, fn));
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
