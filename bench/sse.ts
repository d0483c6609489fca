/**
 * A minimal Server-Sent Events client for the benchmark: reads a
 * `text/event-stream` response and reports each event with the time its
 * last byte arrived (wall clock).
 *
 * @module
 */

/** One event of the stream. */
export interface SseEvent {
  /** `event:` field, `message` when absent. */
  event: string;
  /** `data:` lines joined with newlines. */
  data: string;
}

/**
 * Splits buffered stream text into complete events and the unfinished rest.
 * Frames without a `data:` field (such as `retry:` alone) are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSseFrames } from "./sse.ts";
 * const { events, rest } = parseSseFrames("retry: 2000\n\ndata: {}\n\nevent: ping\nda");
 * assert.deepEqual(events, [{ event: "message", data: "{}" }]);
 * assert.equal(rest, "event: ping\nda");
 * ```
 */
export function parseSseFrames(buffer: string): { events: SseEvent[]; rest: string } {
  const frames = buffer.replaceAll("\r\n", "\n").split("\n\n");
  const rest = frames.pop() ?? "";
  const events: SseEvent[] = [];
  for (const frame of frames) {
    let event = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "event") event = value;
      else if (name === "data") data.push(value);
    }
    if (data.length > 0) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** An open stream; `close()` ends it. */
export interface SseSubscription {
  close(): void;
  /** Resolves when the stream ended (closed by either side). */
  done: Promise<void>;
}

/**
 * Opens `url` and calls `onEvent` with every event and the wall-clock time
 * (`Date.now()`) of its arrival, comparable with event timestamps. Throws
 * when the response is not a 200 event stream.
 */
export async function subscribe(
  url: string,
  onEvent: (event: SseEvent, receivedAt: number) => void,
): Promise<SseSubscription> {
  const controller = new AbortController();
  const response = await fetch(url, {
    signal: controller.signal,
    headers: { accept: "text/event-stream" },
  });
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok || !type.startsWith("text/event-stream") || response.body === null) {
    await response.body?.cancel();
    throw new Error(`Cannot subscribe to ${url}: got ${response.status} ${type}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let closed = false;
  const done = (async () => {
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        const at = Date.now();
        const { events, rest } = parseSseFrames(buffer + decoder.decode(value, { stream: true }));
        buffer = rest;
        for (const event of events) onEvent(event, at);
      }
    } catch (error) {
      if (!closed) throw error;
    }
  })();
  const close = () => {
    closed = true;
    reader.cancel().catch(() => {});
    controller.abort();
  };
  return { close, done };
}
