/**
 * Backing off when the dashboard crash-loops. Each start asks BigQuery for
 * the history (a scan of the table), so a dashboard that dies soon after
 * its start and is started again at once by a supervisor would bill that
 * scan in a loop. A small file notes each start and whether the run ended
 * with a clean stop; a start after runs that ended without one, each soon
 * after its own start, waits before asking BigQuery, twice as long each
 * time. A single crash is restarted at once; a run that lived long enough
 * resets the count.
 *
 * @module
 */

import { formatDuration } from "../cli/mod.ts";
import { errorMessage } from "../errors.ts";
import { logger, sleep } from "../ops/mod.ts";

const log = logger("dashboard");

/** What the file keeps about the latest start. */
export interface StartRecord {
  /** When it started (ms since the epoch). */
  startedAt: number;
  /** Whether it stopped cleanly. */
  clean: boolean;
  /** Runs in a row, before this one, that ended without a clean stop soon after their start. */
  crashes: number;
}

/** How the back-off grows. */
export interface CrashBackoffOptions {
  /** Wait after the second quick crash in a row, doubled after each further one; 0 turns it off. */
  initialMs: number;
  /** Longest wait (default 5 minutes). */
  maxMs?: number;
  /** A run that lived this long before it ended is not part of a loop (default 10 minutes). */
  stableMs?: number;
}

/**
 * The record of a start at `now` after `previous`, and how long to wait
 * before asking BigQuery.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextStart } from "./crash_backoff.ts";
 * const options = { initialMs: 5_000 };
 * const first = nextStart(undefined, 0, options);
 * assert.deepEqual(first, { record: { startedAt: 0, clean: false, crashes: 0 }, delayMs: 0 });
 * const second = nextStart(first.record, 10_000, options); // one crash: at once
 * assert.equal(second.delayMs, 0);
 * const third = nextStart(second.record, 20_000, options); // a loop: wait
 * assert.equal(third.delayMs, 5_000);
 * assert.equal(nextStart(third.record, 30_000, options).delayMs, 10_000);
 * assert.equal(nextStart({ ...third.record, clean: true }, 30_000, options).delayMs, 0);
 * ```
 */
export function nextStart(
  previous: StartRecord | undefined,
  now: number,
  options: CrashBackoffOptions,
): { record: StartRecord; delayMs: number } {
  const stableMs = options.stableMs ?? 600_000;
  const quickCrash = previous !== undefined && !previous.clean &&
    now - previous.startedAt < stableMs && now >= previous.startedAt;
  const crashes = quickCrash ? previous.crashes + 1 : 0;
  const delayMs = crashes < 2 || options.initialMs <= 0
    ? 0
    : Math.min(options.maxMs ?? 300_000, options.initialMs * 2 ** (crashes - 2));
  return { record: { startedAt: now, clean: false, crashes }, delayMs };
}

/**
 * Parses the file's text; undefined when it is not a start record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStartRecord } from "./crash_backoff.ts";
 * assert.deepEqual(parseStartRecord('{"startedAt":1,"clean":true,"crashes":0}'), { startedAt: 1, clean: true, crashes: 0 });
 * assert.equal(parseStartRecord("{"), undefined);
 * ```
 */
export function parseStartRecord(text: string): StartRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const startedAt = Reflect.get(value, "startedAt");
  const clean = Reflect.get(value, "clean");
  const crashes = Reflect.get(value, "crashes");
  if (
    !Number.isSafeInteger(startedAt) || typeof clean !== "boolean" ||
    !Number.isSafeInteger(crashes) || crashes < 0
  ) {
    return undefined;
  }
  return { startedAt, clean, crashes };
}

/** A start noted in the file. */
export interface NotedStart {
  /** How long to wait before asking BigQuery. */
  delayMs: number;
  /** Quick crashes in a row before this start. */
  crashes: number;
  /** Notes in the file that this run stopped cleanly. */
  stopped(): Promise<void>;
}

/**
 * Reads `file`, notes a start at `now` in it and says how long to wait.
 * The file's directory is created when missing; a file that cannot be read
 * or written costs the back-off only (`onProblem` is told why).
 */
export async function noteStart(
  file: string,
  now: number,
  options: CrashBackoffOptions & { onProblem?: (message: string) => void },
): Promise<NotedStart> {
  let previous: StartRecord | undefined;
  try {
    previous = parseStartRecord(await Deno.readTextFile(file));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      options.onProblem?.(`Cannot read ${file}: ${errorMessage(error)}`);
    }
  }
  const { record, delayMs } = nextStart(previous, now, options);
  const write = async (value: StartRecord): Promise<void> => {
    try {
      const dir = file.replace(/[/\\][^/\\]*$/, "");
      if (dir !== file && dir !== "") await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(file, JSON.stringify(value));
    } catch (error) {
      options.onProblem?.(`Cannot write ${file}: ${errorMessage(error)}`);
    }
  };
  await write(record);
  return {
    delayMs,
    crashes: record.crashes,
    stopped: () => write({ ...record, clean: true }),
  };
}

/**
 * The start file of a dashboard of `topic` and `group` in `dir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startFile } from "./crash_backoff.ts";
 * assert.equal(startFile(".state", "plays", "livecharts/consumer"), ".state/dashboard_plays_livecharts_consumer.json");
 * ```
 */
export function startFile(dir: string, topic: string, group: string): string {
  const safe = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${dir.replace(/\/+$/, "")}/dashboard_${safe(topic)}_${safe(group)}.json`;
}

/** Options of {@linkcode waitOutCrashLoop}. */
export interface WaitOutOptions {
  /** Directory of the start files; undefined: starts are not noted and nothing is waited. */
  stateDir: string | undefined;
  topic: string;
  group: string;
  /** Wait after the second quick crash in a row (doubled after each further one); 0 never waits. */
  initialMs: number;
  /** Ends the wait early. */
  signal: AbortSignal;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
}

/**
 * Notes this start and, when the dashboard is crash-looping, says so and
 * waits (until `signal` aborts) before the caller asks BigQuery. Resolves
 * with what to call once stopped cleanly.
 */
export async function waitOutCrashLoop(options: WaitOutOptions): Promise<NotedStart> {
  if (options.stateDir === undefined) {
    return { delayMs: 0, crashes: 0, stopped: () => Promise.resolve() };
  }
  const file = startFile(options.stateDir, options.topic, options.group);
  const noted = await noteStart(file, (options.now ?? Date.now)(), {
    initialMs: options.initialMs,
    onProblem: (message) =>
      log.warn("{message}: no back-off if the dashboard crash-loops", { message }),
  });
  if (noted.delayMs > 0) {
    log.warn(
      "The last {crashes} runs ended without a clean stop soon after their start (see {file}): " +
        "waiting {delay} before asking BigQuery again",
      { crashes: noted.crashes, file, delay: formatDuration(noted.delayMs) },
    );
    await sleep(noted.delayMs, options.signal);
  }
  return noted;
}
