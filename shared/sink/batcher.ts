/**
 * Groups items into batches and hands each batch to an async `flush`.
 * A batch is flushed when it reaches `maxRows` items or `maxBytes` bytes, or
 * when its oldest item has waited `maxWaitMs` — whichever comes first.
 *
 * `add()` returns a promise that settles once every item it added has been
 * flushed, so a caller can acknowledge its input (commit a Kafka offset) only
 * after the output accepted it.
 *
 * @module
 */

/** When to flush. */
export interface FlushLimits {
  /** Most items in one batch (at least 1). */
  maxRows: number;
  /** Most bytes in one batch; a single larger item still forms a batch. */
  maxBytes: number;
  /** Longest an item waits before its batch is flushed, in milliseconds. */
  maxWaitMs: number;
}

/**
 * How many items from the head of a queue with these `sizes` form the next
 * batch: as many as fit both limits, and always at least one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchLength } from "./batcher.ts";
 * assert.equal(batchLength([40, 40, 40], { maxRows: 10, maxBytes: 100 }), 2);
 * ```
 */
export function batchLength(
  sizes: readonly number[],
  limits: Pick<FlushLimits, "maxRows" | "maxBytes">,
): number {
  let bytes = 0;
  let count = 0;
  for (const size of sizes) {
    if (count >= limits.maxRows) break;
    if (count > 0 && bytes + size > limits.maxBytes) break;
    bytes += size;
    count++;
  }
  return count;
}

/**
 * Why a queue of `rows` items and `bytes` bytes whose oldest item is `ageMs`
 * old should be flushed now, or `undefined` when it should wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flushReason } from "./batcher.ts";
 * const limits = { maxRows: 500, maxBytes: 1_000_000, maxWaitMs: 1000 };
 * assert.equal(flushReason({ rows: 500, bytes: 1, ageMs: 0 }, limits), "rows");
 * assert.equal(flushReason({ rows: 1, bytes: 1, ageMs: 10 }, limits), undefined);
 * ```
 */
export function flushReason(
  queue: { rows: number; bytes: number; ageMs: number },
  limits: FlushLimits,
): "rows" | "bytes" | "time" | undefined {
  if (queue.rows === 0) return undefined;
  if (queue.rows >= limits.maxRows) return "rows";
  if (queue.bytes >= limits.maxBytes) return "bytes";
  if (queue.ageMs >= limits.maxWaitMs) return "time";
  return undefined;
}

/** Options of {@linkcode createBatcher}. */
export interface BatcherOptions<T> extends FlushLimits {
  /** Writes one batch; a rejection fails every `add()` with items in it. */
  flush: (items: T[], reason: "rows" | "bytes" | "time" | "drain") => Promise<void>;
  /** Size of one item in bytes. */
  size: (item: T) => number;
  /** Batches written at the same time (default 1). */
  concurrency?: number;
}

/** A running batcher. */
export interface Batcher<T> {
  /** Queues items; resolves when all of them were flushed. */
  add(items: readonly T[]): Promise<void>;
  /** Flushes everything queued now and waits for every batch in flight. */
  drain(): Promise<void>;
  /** Items queued and not yet handed to `flush`. */
  readonly queued: number;
  /** Batches being flushed right now. */
  readonly inFlight: number;
}

interface Ticket {
  remaining: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  failed: boolean;
}

interface Entry<T> {
  item: T;
  bytes: number;
  ticket: Ticket;
  at: number;
}

/**
 * Creates a batcher.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createBatcher } from "./batcher.ts";
 * const written: number[][] = [];
 * const batcher = createBatcher<number>({
 *   maxRows: 2, maxBytes: 1_000, maxWaitMs: 50, size: () => 8,
 *   flush: async (items) => { written.push(items); },
 * });
 * await batcher.add([1, 2, 3]); // [3] waits up to 50 ms for company
 * assert.deepEqual(written, [[1, 2], [3]]);
 * ```
 */
export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  const concurrency = options.concurrency ?? 1;
  const queue: Entry<T>[] = [];
  let queuedBytes = 0;
  let running = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let draining = 0;
  const idle: Array<() => void> = [];

  function arm(): void {
    // At the concurrency limit the end of a flush calls pump(); a timer here
    // would only fire again and again until then.
    if (timer !== undefined || queue.length === 0 || running >= concurrency) return;
    const age = Date.now() - queue[0]!.at;
    timer = setTimeout(() => {
      timer = undefined;
      pump();
    }, Math.max(0, options.maxWaitMs - age));
  }

  function disarm(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  }

  function take(): Entry<T>[] {
    // Only the head can form the batch: sizing the whole queue for every
    // batch would be quadratic in a long queue.
    const head = queue.slice(0, options.maxRows).map((entry) => entry.bytes);
    const count = batchLength(head, options);
    const batch = queue.splice(0, count);
    for (const entry of batch) queuedBytes -= entry.bytes;
    return batch;
  }

  function pump(): void {
    while (running < concurrency && queue.length > 0) {
      const reason = draining > 0 ? "drain" : flushReason(
        { rows: queue.length, bytes: queuedBytes, ageMs: Date.now() - queue[0]!.at },
        options,
      );
      if (reason === undefined) break;
      run(take(), reason);
    }
    if (queue.length === 0) disarm();
    else arm();
    if (queue.length === 0 && running === 0) {
      for (const wake of idle.splice(0)) wake();
    }
  }

  function run(batch: Entry<T>[], reason: "rows" | "bytes" | "time" | "drain"): void {
    running++;
    options.flush(batch.map((entry) => entry.item), reason).then(
      () => {
        for (const { ticket } of batch) {
          if (--ticket.remaining === 0 && !ticket.failed) ticket.resolve();
        }
      },
      (error) => {
        for (const { ticket } of batch) {
          if (!ticket.failed) {
            ticket.failed = true;
            ticket.reject(error);
          }
        }
      },
    ).finally(() => {
      running--;
      pump();
    });
  }

  return {
    add(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const ticket: Ticket = { remaining: items.length, resolve, reject, failed: false };
        const at = Date.now();
        for (const item of items) {
          const bytes = options.size(item);
          queue.push({ item, bytes, ticket, at });
          queuedBytes += bytes;
        }
        pump();
      });
    },
    async drain() {
      draining++;
      try {
        pump();
        if (queue.length > 0 || running > 0) {
          await new Promise<void>((wake) => idle.push(wake));
        }
      } finally {
        draining--;
      }
    },
    get queued() {
      return queue.length;
    },
    get inFlight() {
      return running;
    },
  };
}
