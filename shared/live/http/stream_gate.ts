/**
 * Caps on the dashboard's live streams: in total and per client address. A
 * stream beyond either cap is refused with a reason (the server answers 503
 * with `Retry-After`), so a crowd or one greedy client cannot hold every
 * connection, or the tick's work, for themselves.
 *
 * @module
 */

/** The caps. */
export interface StreamCaps {
  /** Open streams at most, all clients together. */
  maxStreams: number;
  /** Open streams at most from one client address. */
  maxPerClient: number;
}

/** Default caps: 1,000 streams in all, 20 per client address. */
export const DEFAULT_STREAM_CAPS: StreamCaps = { maxStreams: 1_000, maxPerClient: 20 };

/** Admits streams within the caps. */
export interface StreamGate {
  /**
   * A slot for a stream of `client` (its address; undefined counts as one
   * unknown client): a function that frees it (safe to call twice), or the
   * reason it is refused.
   */
  admit(client: string | undefined): (() => void) | string;
  /** Streams open now. */
  readonly open: number;
  /** Streams refused so far. */
  readonly refused: number;
}

/**
 * Creates a gate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createStreamGate } from "./stream_gate.ts";
 * const gate = createStreamGate({ maxStreams: 2, maxPerClient: 1 });
 * const release = gate.admit("10.0.0.1");
 * assert.equal(typeof release, "function");
 * assert.match(String(gate.admit("10.0.0.1")), /at most 1 per client/);
 * assert.equal(typeof gate.admit("10.0.0.2"), "function");
 * assert.match(String(gate.admit("10.0.0.3")), /at most 2 in all/);
 * if (typeof release === "function") release();
 * assert.equal(typeof gate.admit("10.0.0.3"), "function");
 * ```
 */
export function createStreamGate(caps: StreamCaps): StreamGate {
  const byClient = new Map<string, number>();
  let open = 0;
  let refused = 0;
  return {
    admit(client) {
      const key = client ?? "unknown";
      const mine = byClient.get(key) ?? 0;
      if (open >= caps.maxStreams) {
        refused++;
        return `Too many live streams: at most ${caps.maxStreams} in all are served`;
      }
      if (mine >= caps.maxPerClient) {
        refused++;
        return `Too many live streams from ${key}: at most ${caps.maxPerClient} per client are served`;
      }
      open++;
      byClient.set(key, mine + 1);
      let freed = false;
      return () => {
        if (freed) return;
        freed = true;
        open--;
        const left = (byClient.get(key) ?? 1) - 1;
        if (left === 0) byClient.delete(key);
        else byClient.set(key, left);
      };
    },
    get open() {
      return open;
    },
    get refused() {
      return refused;
    },
  };
}
