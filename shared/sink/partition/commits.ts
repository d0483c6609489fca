/**
 * Commits: an offset moves only after BigQuery acknowledged every row below
 * it and Kafka every dead letter below it, with the marker naming where the
 * rows after it go; a new stream is named before its first append; a clean
 * finalize is recorded.
 *
 * @module
 */

import type { FinalizeResult } from "../../bigquery/mod.ts";
import { idleIfEmpty } from "./arrivals.ts";
import { logger, sleep } from "../../ops/mod.ts";
import { type CommitMarker, formatMarker } from "../commit_marker.ts";
import { notify, type OpenStream, type Unit, type WriterState } from "./state.ts";
import { type CommittedPosition, DEFAULT_HOLD_CHECK_MS } from "./context.ts";
import { kafka, stopWaiting } from "./retries.ts";
import { check } from "./state.ts";

const log = logger("consumer");

export async function publishLetters(w: WriterState, count: number): Promise<void> {
  const letters: Unit[] = [];
  for (let i = 0; i < count; i++) {
    const unit = w.units[i]!;
    if (unit.letter !== undefined && !unit.published) letters.push(unit);
  }
  if (letters.length === 0) return;
  await kafka(w, "dead-letter", () => w.ctx.publish(letters.map((unit) => unit.letter!)));
  for (const unit of letters) {
    unit.published = true;
    w.stats.deadLettered[unit.kind ?? "rejected-by-bigquery"]++;
  }
}

/**
 * Holds commits until `keep()` or a stop releases them, or until a check
 * every `holdCheckMs` finds the group's position still at this writer's last
 * commit (see `watchHold`).
 */
export function holdCommits(w: WriterState): void {
  if (w.release !== undefined) return;
  const { promise, resolve } = Promise.withResolvers<void>();
  w.confirmed = promise;
  const release = () => {
    if (w.release === release) w.release = undefined;
    resolve();
  };
  w.release = release;
  void watchHold(w, release);
}

/** Whether the group's committed position of the partition is this writer's last commit. */
export function isOwnPosition(
  w: WriterState,
  position: CommittedPosition | undefined,
): boolean {
  return position?.offset === w.committedAt &&
    (position?.metadata ?? undefined) === w.committedMetadata;
}

/**
 * A hold with no assignment to end it (a one-member group is not
 * rebalanced): every `holdCheckMs` the group's position is read; when it
 * is still this writer's last commit, nobody took the partition over and
 * the writer goes on. Safe without an assignment: Kafka refuses the next
 * commit of a member the group dropped (a new hold follows), and no row
 * goes to a new stream before that stream's commit.
 */
async function watchHold(w: WriterState, release: () => void): Promise<void> {
  const every = w.ctx.holdCheckMs ?? DEFAULT_HOLD_CHECK_MS;
  while (w.release === release && !w.stopping) {
    try {
      await sleep(every, w.abort.signal);
      if (w.release !== release || w.stopping) return;
      const epoch = w.epoch;
      const position = await w.io.committed();
      if (w.release !== release || w.stopping || w.epoch !== epoch) return;
      if (!isOwnPosition(w, position)) continue; // a rebalance will say who owns it
      log.info(
        "Partition {partition}: no rebalance came and the group's committed position is still this writer's: nobody took the partition over; writing and committing again",
        { partition: w.partition, fenced: w.fenced },
      );
      w.fenced = false;
      release();
      notify(w);
      return;
    } catch {
      if (w.stopping) return;
    }
  }
}

/** Removes the first `count` units (committed). */
export function forget(w: WriterState, count: number): void {
  const gone = w.units.splice(0, count);
  w.sent -= count;
  for (const unit of gone) w.heldBytes -= unit.bytes;
  const last = gone[gone.length - 1];
  if (last !== undefined) {
    if (w.known !== undefined && last.offset >= w.known.until) w.known = undefined;
    w.events.committed?.(w.partition, last.offset + 1n, w.highWatermark);
  }
  // Nothing held: no reason to keep fetching paused. (A failure settled by
  // asking BigQuery can leave every row stored with no append to say so.)
  if (w.units.length === 0 && w.arrivals.length === 0) stopWaiting(w);
  idleIfEmpty(w);
}

/**
 * The metadata of a commit after `last`: the marker naming where the rows
 * after it are (the skipped stream, or the current one), or none when no
 * row after it is stored anywhere yet. Undefined (`false`) when a commit
 * now would be wrong.
 */
export function metadataAfter(w: WriterState, last: Unit): string | undefined | false {
  if (!w.exactlyOnce) return undefined;
  if (w.skip !== undefined) {
    return last.after === undefined ? false : markerText(w, last.after, last.offset + 1n);
  }
  if (w.stream?.announced) {
    return last.after?.stream === w.stream.name
      ? markerText(w, last.after, last.offset + 1n)
      : false;
  }
  // Rows after `last` may be stored outside any stream of ours: say so.
  if (w.known !== undefined && last.offset + 1n <= w.known.until) {
    return markerText(w, { stream: w.known.stream, row: 0 }, last.offset + 1n);
  }
  // No stream yet (or not named): nothing after `last` is appended anywhere.
  return undefined;
}

/** The marker of a commit of `offset` naming `at`, with this decoder's version. */
export function markerText(w: WriterState, at: CommitMarker, offset: bigint): string {
  const askUntil = w.known !== undefined && offset <= w.known.until ? w.known.until : undefined;
  return formatMarker({
    stream: at.stream,
    row: at.row,
    version: w.version,
    ...(askUntil === undefined ? {} : { askUntil }),
  });
}

/** Commits the stored prefix; resolves false when there is nothing to commit now. */
export async function commitStored(w: WriterState): Promise<boolean> {
  let count = 0;
  while (count < w.sent && w.units[count]!.stored) count++;
  if (count === 0) return false;
  const last = w.units[count - 1]!;
  const metadata = metadataAfter(w, last);
  if (metadata === false) return false;
  await publishLetters(w, count);
  await commitOffset(w, last.offset + 1n, metadata);
  forget(w, count);
  return true;
}

/**
 * Commits `offset` with `metadata`, retrying what passes, once any check of
 * this writer's ownership (see `confirmed`) is done; remembers it as this
 * writer's last commit.
 */
export async function commitOffset(
  w: WriterState,
  offset: bigint,
  metadata: string | undefined,
  options: { retry?: boolean } = {},
): Promise<void> {
  const attempt = async () => {
    await w.confirmed;
    check(w);
    const epoch = w.epoch;
    try {
      await w.io.commit(offset, metadata);
    } catch (error) {
      // The group moved while this member was away, or is rebalancing: the
      // partition may be someone else's by now. No commit until a check of
      // ownership after the next assignment (or until the writer stops).
      if (w.ctx.isMembershipLost?.(error) && w.epoch === epoch) holdCommits(w);
      throw error;
    }
  };
  if (options.retry === false) await attempt();
  else await kafka(w, "commit", attempt);
  check(w);
  w.committedAt = offset;
  w.committedMetadata = metadata;
  log.debug("Partition {partition}: committed {offset} ({metadata})", {
    partition: w.partition,
    offset: String(offset),
    metadata: metadata ?? "",
  });
}

/** Commits `{stream, 0}` at the first unsent message: the marker names the new stream. */
export async function announce(w: WriterState): Promise<void> {
  const open = w.stream!;
  const first = w.units[w.sent]!;
  await publishLetters(w, w.sent);
  await commitOffset(
    w,
    first.offset,
    markerText(w, { stream: open.name, row: 0 }, first.offset),
  );
  forget(w, w.sent);
  open.announced = true;
}

/**
 * After a clean finalize with every row committed, commits the same offset
 * again with `f: 1`: the next owner need not finalize the stream again.
 */
export async function markFinalized(
  w: WriterState,
  open: OpenStream,
  finalized: FinalizeResult,
): Promise<void> {
  if (finalized.status !== "finalized" || finalized.rowCount !== open.next) return;
  if (w.units.length > 0 || w.known !== undefined || w.committedAt === undefined) return;
  const offset = w.committedAt;
  const metadata = formatMarker({
    stream: open.name,
    row: open.next,
    finalized: true,
    version: w.version,
  });
  await commitOffset(w, offset, metadata, { retry: false });
}
