/**
 * One assigned Kafka partition's way into BigQuery, exactly once: the loop
 * that runs the stages of partition/ over one explicit state (state.ts).
 *
 * The messages of the partition are turned into rows in order (deterministic:
 * the same messages give the same rows and the same dead letters) and
 * appended to a COMMITTED write stream of the partition's own, at explicit
 * row offsets, several appends in flight. Once BigQuery acknowledged a
 * stretch of rows and Kafka acknowledged the stretch's dead letters, the
 * stretch's offset is committed with a marker naming the stream and the row
 * offset that follows (commit_marker.ts). Invariant: **the committed marker
 * names the stream that the rows after the committed offset go to, and the
 * row offset they start at**. It is kept by committing `{new stream, row 0}`
 * before the first append to any new stream.
 *
 * On assignment the writer reads the committed marker, finalizes the stream
 * it names (no one appends to it any more, e.g. a previous owner still
 * running) and learns its row count: the first `rowCount - row` rows rebuilt
 * from the re-read messages are already stored and are skipped. If that
 * stream cannot be found (it expired, or the local BigQuery restarted), the
 * writer says so and writes those messages again: at least once for that
 * gap only.
 *
 * While running, anything unexpected (a lost answer, a deadline, a stream
 * that went away) is settled the same way: finalize the stream, take its row
 * count as the truth of what is stored, continue in a new stream.
 *
 * Failures get the response their class calls for:
 * - rows BigQuery refuses as rows: the refused rows (found without storing
 *   anything, in a PENDING probe stream, when BigQuery does not name them)
 *   become dead letters; a commit follows each refused row before any later
 *   row is appended, so a re-read never has to guess which rows were refused;
 * - every row refused while the table's schema does not fit the rows, a
 *   missing table that may not be created, refused access: the destination
 *   is unusable: nothing goes to the DLQ, the writer reports itself blocked
 *   and tries again, slowly, until it works;
 * - a missing table that may be created: created again from the shared
 *   schema, and the rows since the last commit written into it;
 * - transient failures: retried with capped backoff.
 * Nothing here holds up the Kafka client: the writer runs beside it, so the
 * group's heartbeats go on whatever the writer waits for.
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import { logger } from "../../ops/mod.ts";
import { PLAY_DECODER } from "../sink.ts";
import { handleHead, send } from "./append_window.ts";
import { announce, commitStored, isOwnPosition, markFinalized } from "./commits.ts";
import { kafka } from "./retries.ts";
import {
  DEFAULT_SCHEMA_CHECK_MS,
  type PartitionIO,
  type PartitionWriter,
  type WriterContext,
} from "./context.ts";
import { flushDue, takeChunk } from "./held.ts";
import { consumeSkip, recover } from "./resume.ts";
import { admit, checkStart } from "./arrivals.ts";
import { openStream, resync } from "./streams.ts";
import { fitNext } from "./schema_fit.ts";
import { createTableColumns } from "./table_columns.ts";
import { check, messageBytes, notify, Stopped, type WriterState } from "./state.ts";

const log = logger("consumer");

/**
 * Starts the writer of `partition`. With `previous` (the partition's former
 * writer in this process), it first waits for that one to stop.
 */
export function createPartitionWriter(
  partition: number,
  io: PartitionIO,
  ctx: WriterContext,
  previous?: PartitionWriter,
): PartitionWriter {
  const decoder = ctx.decoder ?? PLAY_DECODER;
  const w: WriterState = {
    partition,
    io,
    ctx,
    destination: ctx.destination,
    stats: ctx.stats,
    limits: ctx.limits,
    exactlyOnce: ctx.destination.exactlyOnce,
    events: ctx.events ?? {},
    now: ctx.now ?? (() => new Date()),
    decoder,
    version: decoder.version,
    columns: ctx.columns ?? createTableColumns(ctx.destination),
    fittedVersion: 0,
    recheck: false,
    abort: new AbortController(),
    units: [],
    sent: 0,
    unsentBytes: 0,
    heldBytes: 0,
    next: undefined,
    arrivals: [],
    arrivedMessages: 0,
    highWatermark: 0n,
    window: [],
    stream: undefined,
    skip: undefined,
    known: undefined,
    startAt: undefined,
    committedAt: undefined,
    committedMetadata: undefined,
    confirmed: Promise.resolve(),
    release: undefined,
    epoch: 0,
    fenced: false,
    failures: 0,
    waiting: false,
    blocked: undefined,
    draining: 0,
    stopping: false,
    closing: false,
    wake: () => {},
    poked: false,
    idle: [],
  };

  const { promise: started, resolve: resumed } = Promise.withResolvers<void>();
  const stopped = (async () => {
    try {
      if (previous !== undefined) await previous.stopped;
      check(w);
      await recover(w);
      resumed();
      while (!w.stopping) {
        if (!await step(w)) await waitForWork(w);
      }
    } catch (error) {
      if (!(error instanceof Stopped)) {
        log.error("Partition {partition}: cannot go on: {error}", {
          partition,
          error: errorMessage(error),
        });
        w.events.failed?.(partition, error);
      }
    } finally {
      w.stopping = true;
      const open = w.stream;
      open?.rs.close();
      // Revoked or given up: no more appends to this stream. The next owner
      // finalizes it (nobody waits for this one).
      if (open !== undefined && open.used && w.exactlyOnce && !w.closing) {
        w.destination.finalizeStream(open.name).catch(() => {});
      }
      for (const wakeUp of w.idle.splice(0)) wakeUp();
      resumed();
    }
  })();

  function stop(): Promise<void> {
    if (!w.stopping) {
      w.stopping = true;
      w.release?.();
      w.abort.abort();
      w.stream?.rs.close();
      notify(w);
    }
    return stopped;
  }

  return {
    partition,
    add(messages, end, options = {}) {
      if (end > w.highWatermark) w.highWatermark = end;
      const first = messages[0];
      if (first === undefined || w.stopping) return;
      let bytes = 0;
      for (const message of messages) bytes += messageBytes(message);
      w.arrivals.push({
        messages,
        from: options.fetchedFrom ?? BigInt(first.offset),
        bytes,
        at: Date.now(),
      });
      w.heldBytes += bytes;
      w.arrivedMessages += messages.length;
      admit(w);
      notify(w);
    },
    get heldBytes() {
      return w.heldBytes;
    },
    get held() {
      return w.units.length + w.arrivedMessages;
    },
    async drain() {
      w.draining++;
      notify(w);
      try {
        while ((w.units.length > 0 || w.arrivals.length > 0) && !w.stopping) {
          await new Promise<void>((resolve) => w.idle.push(resolve));
        }
      } finally {
        w.draining--;
      }
    },
    async close() {
      w.closing = true;
      await this.drain();
      const open = w.stream;
      if (open !== undefined && open.used && w.exactlyOnce && !w.stopping) {
        try {
          const finalized = await w.destination.finalizeStream(open.name);
          await markFinalized(w, open, finalized);
        } catch (error) {
          log.debug("Partition {partition}: cannot finalize {stream}: {error}", {
            partition,
            stream: open.name,
            error: errorMessage(error),
          });
        }
      }
      await stop();
    },
    async keep() {
      w.epoch++;
      const held = w.release;
      const { promise, resolve } = Promise.withResolvers<void>();
      w.confirmed = promise;
      w.release = undefined;
      let own = false;
      try {
        // Resumed writers only: one still resuming reads the position itself.
        await started;
        if (w.stopping) return false;
        const position = await kafka(w, "commit", () => w.io.committed());
        own = !w.stopping && isOwnPosition(w, position);
        if (own && w.fenced) {
          // Nobody committed after this writer: whoever finalized its stream
          // appended nothing (a new owner commits its stream before that).
          w.fenced = false;
          notify(w);
        }
        return own;
      } catch {
        return false;
      } finally {
        // Not its own any more: it stops before its waiting commits wake, or
        // one of them (this member is in the group again) would move the
        // partition back over the other owner's commits.
        if (!own) void stop();
        resolve();
        held?.();
      }
    },
    stop,
    stopped,
  };
}

/** Does one thing that can be done now; false when there is nothing. */
async function step(w: WriterState): Promise<boolean> {
  if (w.arrivals.length > 0 && await checkStart(w)) return true;
  if (w.window[0]?.result !== undefined) {
    await handleHead(w);
    return true;
  }
  // Appends first: a commit then runs while they are in flight.
  if (await trySend(w)) return true;
  if (await commitStored(w)) return true;
  return await checkColumns(w);
}

/**
 * Nothing to send, a stream open and the table's columns due to be read
 * again: reads them, and settles the stream if its columns changed under it
 * (so a change by hand is noticed, and logged, before the next rows come).
 */
async function checkColumns(w: WriterState): Promise<boolean> {
  if (w.stream === undefined || w.window.length > 0 || w.sent < w.units.length) return false;
  if (columnsDueIn(w) > 0) return false;
  for (let i = 0; i < 3 && w.stream !== undefined && !w.stopping; i++) {
    if (await fitNext(w, true) !== "progress") break;
  }
  return true;
}

/** Milliseconds until the table's columns are due to be read again. */
function columnsDueIn(w: WriterState): number {
  const maxAge = w.ctx.schemaCheckMs ?? DEFAULT_SCHEMA_CHECK_MS;
  return maxAge - (Date.now() - w.columns.loadedAt);
}

/** Sends the next append (or does what must come before it); false when none is due. */
async function trySend(w: WriterState): Promise<boolean> {
  if (w.fenced) return false;
  if (w.skip !== undefined && w.sent < w.units.length && w.window.length === 0) {
    if (await fitNext(w, true) === "ready") consumeSkip(w);
    return true;
  }
  if (w.sent >= w.units.length || w.window.length >= w.limits.concurrency || !flushDue(w)) {
    return false;
  }
  if (w.sent > 0 && w.units[w.sent - 1]!.barrier) return false; // its commit comes first
  if (
    w.stream !== undefined && w.stream.announced && w.exactlyOnce &&
    w.stream.createdAt !== w.ctx.table.createdAt && w.stream.used
  ) {
    // The table was created again: nothing more on this stream; once its
    // appends are answered, resync asks the new table what it holds.
    if (w.window.length > 0) return false;
    await resync(w);
    return true;
  }
  if (w.stream === undefined) {
    if (w.window.length > 0) return false;
    // Columns first, so that the new stream is described with them (and
    // none is opened while no row can fit the table).
    const fitted = await fitNext(w, true);
    if (fitted === "wait") return false;
    if (fitted !== "ready") return true;
    await openStream(w);
    return true;
  }
  if (!w.stream.announced) {
    if (w.window.length > 0 || w.units.slice(0, w.sent).some((unit) => !unit.stored)) return false;
    await announce(w);
    return true;
  }
  const fitted = await fitNext(w, false);
  if (fitted === "wait") return false;
  if (fitted === "ready" && w.stream !== undefined && !w.stopping) send(w, takeChunk(w));
  return true;
}

async function waitForWork(w: WriterState): Promise<void> {
  if (w.poked || w.stopping) {
    w.poked = false;
    return;
  }
  const wakeUp = new Promise<void>((resolve) => (w.wake = resolve));
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (w.sent < w.units.length && w.window.length < w.limits.concurrency) {
    const age = Date.now() - w.units[w.sent]!.at;
    timer = setTimeout(() => notify(w), Math.max(1, w.limits.maxWaitMs - age));
  } else if (w.stream !== undefined && w.window.length === 0) {
    timer = setTimeout(() => notify(w), Math.max(1, columnsDueIn(w)));
  }
  const waited = Date.now();
  await Promise.race([wakeUp, w.window[0]?.promise ?? wakeUp]);
  clearTimeout(timer);
  w.poked = false;
  if (Date.now() - waited > 10_000) {
    log.debug(
      "Partition {partition}: waited {ms} ms with {held} messages held, {sent} sent, {inFlight} appends in flight",
      {
        partition: w.partition,
        ms: Date.now() - waited,
        held: w.units.length,
        sent: w.sent,
        inFlight: w.window.length,
        stream: w.stream?.name ?? "none",
        skip: w.skip?.left ?? 0,
      },
    );
  }
}
