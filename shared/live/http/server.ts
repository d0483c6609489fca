/**
 * The dashboard's HTTP side: the static page, the JSON API and the
 * Server-Sent Events stream, as one `fetch`-style handler for `Deno.serve`.
 *
 * Routes:
 * - `GET /` (and `/app.js`, `/style.css`, `/favicon.svg`): the page;
 * - `GET /api/top?artist=&window=&limit=`: the top songs document;
 * - `GET /api/top.csv` and `/api/top.json` (same parameters): the same
 *   document to download, as CSV (one row per song) or JSON;
 * - `GET /api/artists?q=&offset=&limit=`: artists of all time whose slug
 *   contains `q`, most played first, a page at a time;
 * - `GET /overview` (page) and `GET /api/overview?window=&offset=&limit=`:
 *   artists' plays in the window and their number one, most played first,
 *   a page at a time (both lists ordered at most once per {@linkcode LIST_TICK_MS});
 * - `GET /api/stream?artist=&window=&limit=`: the same document as SSE,
 *   pushed when it changes (checked every `tickMs`, so at most a few per second);
 * - `GET /api/overview/stream?window=&offset=&limit=`: a page of the
 *   overview as SSE, pushed when its artists change (at most once per list
 *   tick, the lists being ordered no more often); one frame per page and
 *   tick however many watch it;
 * - `GET /api/reconcile`: dashboard versus BigQuery for every window, through
 *   the gate (cached, at most one BigQuery run per interval), 403 when
 *   turned off;
 * - `GET /healthz`: state, problems and counters; 503 when the dashboard
 *   cannot count (its Kafka reader is down).
 *
 * Each document frame carries an SSE `id:` (a sequence number). State is a
 * snapshot: a stream (re)opened, with or without `Last-Event-ID`, starts
 * with the current full document, so a viewer that reconnects sees exactly
 * the server's numbers at once, whatever it missed.
 *
 * Each stream holds at most one frame the viewer has not taken yet: a
 * viewer that does not read gets only the latest document once it reads
 * again, and one that has not taken anything for `stallTimeoutMs` is cut
 * off (its browser reconnects by itself). Memory does not grow with slow
 * viewers. Streams are capped in total and per client address
 * (`stream_gate.ts`): beyond a cap the answer is 503 with `Retry-After`.
 *
 * @module
 */

import { errorMessage } from "../../errors.ts";
import { DEFAULT_STALL_TIMEOUT_MS } from "../options.ts";
import { MAX_ARTIST_LENGTH, SLUG } from "../../event.ts";
import { exportFileName, topCsv } from "./export.ts";
import { createStreamGate, DEFAULT_STREAM_CAPS, type StreamCaps } from "./stream_gate.ts";
import type { LiveStatus } from "../feed/live_feed.ts";
import { type TopDocument, topDocument, type TopQuery } from "./top_document.ts";
import { createOverviewCache, type Page } from "./overview.ts";
import type { ReconcileGate } from "../reconcile/reconcile_gate.ts";
import { isWindowName, type PlayCounter, WINDOW_NAMES, type WindowName } from "../counting/mod.ts";

export { type SongTrend, type TopDocument, topDocument, type TopQuery } from "./top_document.ts";

/** Defaults of the query parameters. */
export const DEFAULT_ARTIST = "tony-allen";
export const DEFAULT_WINDOW: WindowName = "1h";
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 100;

/** A bad query parameter (answered with 400). */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryError";
  }
}

/**
 * Validates the query parameters of `/api/top` and `/api/stream`.
 * Unknown parameters are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTopQuery } from "./server.ts";
 * assert.deepEqual(
 *   parseTopQuery(new URLSearchParams("window=5m")),
 *   { artist: "tony-allen", window: "5m", limit: 10 },
 * );
 * assert.throws(() => parseTopQuery(new URLSearchParams("limit=0")), /Invalid 'limit'/);
 * ```
 */
export function parseTopQuery(params: URLSearchParams): TopQuery {
  const artist = params.get("artist") ?? DEFAULT_ARTIST;
  if (artist.length > MAX_ARTIST_LENGTH || !SLUG.test(artist)) {
    throw new QueryError(
      `Invalid 'artist': expected a slug like "tony-allen", got ${
        JSON.stringify(artist.slice(0, 64))
      }`,
    );
  }
  const window = parseWindow(params);
  const rawLimit = params.get("limit") ?? String(DEFAULT_LIMIT);
  const limit = Number(rawLimit);
  if (!/^\d{1,3}$/.test(rawLimit) || limit < 1 || limit > MAX_LIMIT) {
    throw new QueryError(
      `Invalid 'limit': expected an integer from 1 to ${MAX_LIMIT}, got ${
        JSON.stringify(rawLimit.slice(0, 64))
      }`,
    );
  }
  return { artist, window, limit };
}

function parseWindow(params: URLSearchParams): WindowName {
  const window = params.get("window") ?? DEFAULT_WINDOW;
  if (!isWindowName(window)) {
    throw new QueryError(
      `Invalid 'window': expected one of ${WINDOW_NAMES.join(", ")}, got ${
        JSON.stringify(window.slice(0, 64))
      }`,
    );
  }
  return window;
}

/** Default and largest `limit` of `/api/overview` and `/api/artists` (artists per page). */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;

/** What `/api/overview` and `/api/artists` are asked for. */
export interface ListQuery extends Page {
  window: WindowName;
  /** Part of an artist's slug (`/api/artists`); `""` for all. */
  q: string;
}

function integerParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  max: number,
  min: number,
): number {
  const raw = params.get(name) ?? String(fallback);
  const value = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || value < min || value > max) {
    throw new QueryError(
      `Invalid '${name}': expected an integer from ${min} to ${max}, got ${
        JSON.stringify(raw.slice(0, 64))
      }`,
    );
  }
  return value;
}

/**
 * Validates the query parameters of `/api/overview` and `/api/artists`:
 * `window`, `offset`, `limit` (at most {@linkcode MAX_PAGE_LIMIT}) and `q`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseListQuery } from "./server.ts";
 * assert.deepEqual(
 *   parseListQuery(new URLSearchParams("q=allen&offset=200")),
 *   { window: "1h", q: "allen", offset: 200, limit: 100 },
 * );
 * assert.throws(() => parseListQuery(new URLSearchParams("limit=5000")), /Invalid 'limit'/);
 * assert.throws(() => parseListQuery(new URLSearchParams("q=Tony%20Allen")), /Invalid 'q'/);
 * ```
 */
export function parseListQuery(params: URLSearchParams): ListQuery {
  const q = params.get("q") ?? "";
  if (q.length > MAX_ARTIST_LENGTH || !/^[a-z0-9-]*$/.test(q)) {
    throw new QueryError(
      `Invalid 'q': expected part of a slug (lowercase letters, digits, dashes), got ${
        JSON.stringify(q.slice(0, 64))
      }`,
    );
  }
  return {
    window: parseWindow(params),
    q,
    offset: integerParam(params, "offset", 0, 100_000_000, 0),
    limit: integerParam(params, "limit", DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, 1),
  };
}

/** What changes a streamed document (the clock alone does not). */
function contentKey(doc: TopDocument): string {
  return JSON.stringify([
    doc.total,
    doc.songs,
    doc.series?.from,
    doc.plays_per_second,
    doc.last_event_at,
    doc.newest_event_at,
    doc.kafka_lag,
    doc.state,
    doc.problems,
  ]);
}

/** `/healthz`: its body, and whether the dashboard can count at all (200) or not (503). */
export interface HealthAnswer {
  healthy: boolean;
  body: Record<string, unknown>;
}

/** How old the order of `/api/overview` and `/api/artists` may be (ms): one rebuild a second at most. */
export const LIST_TICK_MS = 1_000;

/** `Retry-After` of a stream refused by a cap, in seconds. */
export const STREAM_RETRY_AFTER_S = 10;

/** Options of {@linkcode createDashboardHandler}. */
export interface DashboardHandlerOptions {
  /** The current counter (it is replaced when the dashboard re-anchors). */
  counter: () => PlayCounter;
  /** Whether the numbers are complete, and what is wrong. */
  status: () => Pick<LiveStatus, "state" | "problems">;
  /** Messages in Kafka not counted yet (default: not known). */
  lag?: () => number | undefined;
  /** Directory of the static page (`web/`). */
  staticDir: URL;
  /** `/healthz`. */
  health: () => HealthAnswer;
  /** The gate of `/api/reconcile`; undefined turns the endpoint off (403). */
  reconcile?: ReconcileGate | undefined;
  /** How often streams check for changes (default 250 ms). */
  tickMs?: number;
  /** Interval of SSE `ping` events that keep connections and the page's watchdog alive (default 15 s). */
  heartbeatMs?: number;
  /** A stream that takes nothing for this long is closed (default 30 s). */
  stallTimeoutMs?: number;
  /** Open streams at most, in all and per client address (default {@linkcode DEFAULT_STREAM_CAPS}). */
  streamCaps?: StreamCaps;
  /** How old the order of `/api/overview` and `/api/artists` may be (default {@linkcode LIST_TICK_MS}). */
  listTickMs?: number;
  /** Wall clock (default `Date.now`). */
  now?: () => number;
}

/** The handler and a way to end every open stream. */
export interface DashboardHandler {
  /** Answers `request` from `client` (its address, for the per-client stream cap). */
  handler: (request: Request, client?: string) => Promise<Response>;
  /** Number of open streams. */
  readonly streams: number;
  /** Streams closed because their viewer stopped reading. */
  readonly dropped: number;
  /** Streams reopened by a viewer that had one (with `Last-Event-ID`). */
  readonly resumed: number;
  /** Streams refused by a cap. */
  readonly refused: number;
  /** Stream documents built (one per view whose stamp changed, however many watch it). */
  readonly builds: number;
  /** Ends all streams and stops the timer. */
  close(): void;
}

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/overview": { file: "overview.html", type: "text/html; charset=utf-8" },
  "/overview.js": { file: "overview.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const PAGE_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

interface Subscriber {
  /** What it watches: viewers of the same view share one frame per tick. */
  view: string;
  /** The view's frame now, with what identifies its content. */
  build: (at: number) => { key: string; frame: Uint8Array };
  /**
   * Changes whenever what the view shows may have: while it stays the same
   * the view's last frame is reused and nothing is built.
   */
  stamp: (at: number) => string;
  key: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
  /** The newest frame the viewer has not taken yet (older ones are dropped). */
  pending: Uint8Array | undefined;
  /** Since when a frame has been waiting for the viewer (ms). */
  waitingSince: number | undefined;
  /** Frees its place under the stream caps. */
  release: () => void;
}

const encoder = new TextEncoder();

/**
 * Creates the handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createDashboardHandler } from "./server.ts";
 * import { createPlayCounter } from "../counting/mod.ts";
 * const counter = createPlayCounter();
 * const dashboard = createDashboardHandler({
 *   counter: () => counter,
 *   status: () => ({ state: "live", problems: [] }),
 *   staticDir: new URL("../../../web/", import.meta.url),
 *   health: () => ({ healthy: false, body: { status: "down" } }),
 * });
 * try {
 *   const top = await dashboard.handler(new Request("http://127.0.0.1/api/top?window=5m"));
 *   assert.equal(top.status, 200);
 *   assert.deepEqual((await top.json()).songs, []);
 *   const bad = await dashboard.handler(new Request("http://127.0.0.1/api/top?limit=0"));
 *   assert.equal(bad.status, 400);
 *   await bad.body?.cancel();
 *   const health = await dashboard.handler(new Request("http://127.0.0.1/healthz"));
 *   assert.equal(health.status, 503);
 *   await health.body?.cancel();
 *   const off = await dashboard.handler(new Request("http://127.0.0.1/api/reconcile"));
 *   assert.equal(off.status, 403);
 *   await off.body?.cancel();
 * } finally {
 *   dashboard.close();
 * }
 * ```
 */
export function createDashboardHandler(options: DashboardHandlerOptions): DashboardHandler {
  const now = options.now ?? Date.now;
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const subscribers = new Set<Subscriber>();
  const gate = createStreamGate(options.streamCaps ?? DEFAULT_STREAM_CAPS);
  let lastHeartbeat = now();
  let dropped = 0;
  let resumed = 0;
  /** Id of the latest document frame. */
  let sequence = 0;
  /** The overview and the artists, ordered at most once per list tick. */
  const lists = createOverviewCache({ tickMs: options.listTickMs ?? LIST_TICK_MS, now });

  function remove(subscriber: Subscriber): void {
    subscribers.delete(subscriber);
    subscriber.pending = undefined;
    subscriber.release();
  }

  /** Hands `frame` to the stream if it has room, else keeps it as the one pending frame. */
  function offer(subscriber: Subscriber, frame: Uint8Array, at: number, replace = true): void {
    const room = subscriber.controller.desiredSize;
    if (room === null) return remove(subscriber); // closed or errored
    if (room > 0 && subscriber.pending === undefined) {
      try {
        subscriber.controller.enqueue(frame);
      } catch {
        remove(subscriber); // the client went away
      }
      return;
    }
    if (replace || subscriber.pending === undefined) subscriber.pending = frame;
    subscriber.waitingSince ??= at;
  }

  /** The viewer read: hands over the pending frame. */
  function flush(subscriber: Subscriber): void {
    const frame = subscriber.pending;
    subscriber.pending = undefined;
    subscriber.waitingSince = undefined;
    if (frame === undefined) return;
    try {
      subscriber.controller.enqueue(frame);
    } catch {
      remove(subscriber);
    }
  }

  /** `doc` as a document frame (with the next id) and `key`. */
  function frameOf(doc: unknown, key: string): { key: string; frame: Uint8Array } {
    sequence++;
    return { key, frame: encoder.encode(`id: ${sequence}\ndata: ${JSON.stringify(doc)}\n\n`) };
  }

  /** Counters told apart (the dashboard replaces its counter when it re-anchors). */
  const counterIds = new WeakMap<PlayCounter, number>();
  let counters = 0;
  function counterId(): number {
    const counter = options.counter();
    let id = counterIds.get(counter);
    if (id === undefined) counterIds.set(counter, id = ++counters);
    return id;
  }

  /**
   * What a top songs view depends on: its artist's counts, the dashboard's
   * state, and time (the window slides, plays per second and the freshness
   * fields age) at most once a second.
   */
  function topStamp(query: TopQuery, at: number): string {
    const second = Math.floor(at / 1_000);
    const { state, problems } = options.status();
    const change = options.counter().changeOf(query.artist);
    return JSON.stringify([counterId(), change, second, state, problems, options.lag?.()]);
  }

  /** A page of the overview changes at most once per list tick. */
  function listStamp(at: number): string {
    return `${counterId()} ${Math.floor(at / (options.listTickMs ?? LIST_TICK_MS))}`;
  }

  /** The top songs document of `query` at `at` as a frame. */
  function topFrame(query: TopQuery, at: number): { key: string; frame: Uint8Array } {
    const doc = topDocument(options.counter(), query, at, options.status(), options.lag?.());
    return frameOf(doc, contentKey(doc));
  }

  /** A page of the overview at `at` as a frame; its content is the artists and their count. */
  function overviewFrame(query: ListQuery, at: number): { key: string; frame: Uint8Array } {
    const { window, offset, limit } = query;
    const doc = lists.overview(options.counter(), window, at, { offset, limit });
    return frameOf(doc, JSON.stringify([doc.count, doc.artists]));
  }

  /** Each watched view's stamp and frame, carried from one tick to the next. */
  let views = new Map<string, { stamp: string; key: string; frame: Uint8Array }>();
  let builds = 0;

  /**
   * The current frame of `subscriber`'s view: built at most once per tick
   * (`seen` holds those already looked at in this tick, none when it is a
   * new viewer's first), and only when its stamp changed since it was last
   * built; else the last frame is reused.
   */
  function frameOfView(
    subscriber: Subscriber,
    at: number,
    seen: Map<string, { stamp: string; key: string; frame: Uint8Array }> | undefined,
  ): { key: string; frame: Uint8Array } {
    const known = seen?.get(subscriber.view);
    if (known !== undefined) return known;
    const stamp = subscriber.stamp(at);
    let current = views.get(subscriber.view);
    if (current === undefined || current.stamp !== stamp) {
      current = { stamp, ...subscriber.build(at) };
      builds++;
    }
    (seen ?? views).set(subscriber.view, current);
    return current;
  }

  /** Offers the current document when it changed (`force`: even when it did not). */
  function push(
    subscriber: Subscriber,
    at: number,
    force: boolean,
    seen?: Map<string, { stamp: string; key: string; frame: Uint8Array }>,
  ): void {
    const current = frameOfView(subscriber, at, seen);
    if (!force && current.key === subscriber.key) return;
    subscriber.key = current.key;
    offer(subscriber, current.frame, at);
  }

  const ping = encoder.encode("event: ping\ndata: {}\n\n");
  const timer = setInterval(() => {
    if (subscribers.size === 0) {
      views.clear();
      return;
    }
    const at = now();
    const seen = new Map<string, { stamp: string; key: string; frame: Uint8Array }>();
    for (const subscriber of subscribers) {
      if (subscriber.waitingSince !== undefined && at - subscriber.waitingSince >= stallTimeoutMs) {
        // Stalled for good: cut it off rather than keep anything for it.
        remove(subscriber);
        dropped++;
        try {
          subscriber.controller.error(new Error("The viewer stopped reading"));
        } catch {
          // already closed
        }
        continue;
      }
      push(subscriber, at, false, seen);
    }
    views = seen; // views nobody watches any more are forgotten
    if (at - lastHeartbeat >= (options.heartbeatMs ?? 15_000)) {
      lastHeartbeat = at;
      for (const subscriber of subscribers) offer(subscriber, ping, at, false);
    }
  }, options.tickMs ?? 250);

  function stream(
    view: string,
    build: Subscriber["build"],
    stamp: Subscriber["stamp"],
    client: string | undefined,
  ): Response {
    const release = gate.admit(client);
    if (typeof release === "string") {
      return json({ error: release }, 503, { "retry-after": String(STREAM_RETRY_AFTER_S) });
    }
    let subscriber: Subscriber | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        subscriber = {
          view,
          build,
          stamp,
          key: "",
          controller,
          pending: undefined,
          waitingSince: undefined,
          release,
        };
        subscribers.add(subscriber);
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
        push(subscriber, now(), true);
      },
      pull() {
        if (subscriber !== undefined) flush(subscriber);
      },
      cancel() {
        if (subscriber !== undefined) remove(subscriber);
      },
    }, { highWaterMark: 1 });
    return new Response(body, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  async function serveStatic(path: string): Promise<Response | undefined> {
    const entry = STATIC[path];
    if (entry === undefined) return undefined;
    const body = await Deno.readFile(new URL(entry.file, options.staticDir));
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": entry.type,
      "cache-control": "no-cache",
    };
    if (entry.file.endsWith(".html")) headers["content-security-policy"] = PAGE_POLICY;
    return new Response(body, { headers });
  }

  async function reconcile(): Promise<Response> {
    if (options.reconcile === undefined) {
      return json({ error: "Reconciliation is turned off (--reconcile-api false)" }, 403);
    }
    const gated = await options.reconcile.check();
    const meta = { cached: gated.cached, next_run_at: new Date(gated.nextRunAt).toISOString() };
    if (gated.result === undefined) {
      const seconds = Math.max(1, Math.ceil((gated.nextRunAt - now()) / 1000));
      return json(
        { error: `Cannot reconcile with BigQuery: ${gated.error}`, ...meta },
        503,
        { "retry-after": String(seconds) },
      );
    }
    return json({ ...gated.result, ...meta });
  }

  async function handler(request: Request, client?: string): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json({ error: `Method ${request.method} is not allowed: use GET` }, 405);
    }
    try {
      switch (url.pathname) {
        case "/api/top":
          return json(
            topDocument(
              options.counter(),
              parseTopQuery(url.searchParams),
              now(),
              options.status(),
              options.lag?.(),
            ),
          );
        case "/api/top.json":
        case "/api/top.csv": {
          const doc = topDocument(
            options.counter(),
            parseTopQuery(url.searchParams),
            now(),
            options.status(),
            options.lag?.(),
          );
          const csv = url.pathname.endsWith(".csv");
          const disposition = {
            "content-disposition": `attachment; filename="${
              exportFileName(doc, csv ? "csv" : "json")
            }"`,
          };
          if (!csv) return json(doc, 200, disposition);
          return new Response(topCsv(doc), {
            headers: {
              ...SECURITY_HEADERS,
              "content-type": "text/csv; charset=utf-8",
              "cache-control": "no-store",
              ...disposition,
            },
          });
        }
        case "/api/stream": {
          const query = parseTopQuery(url.searchParams);
          if (request.headers.has("last-event-id")) resumed++;
          const view = `top ${query.artist} ${query.window} ${query.limit}`;
          return stream(view, (at) => topFrame(query, at), (at) => topStamp(query, at), client);
        }
        case "/api/overview/stream": {
          const query = parseListQuery(url.searchParams);
          if (request.headers.has("last-event-id")) resumed++;
          const view = `overview ${query.window} ${query.offset} ${query.limit}`;
          return stream(view, (at) => overviewFrame(query, at), (at) => listStamp(at), client);
        }
        case "/api/overview": {
          const { window, offset, limit } = parseListQuery(url.searchParams);
          return json(lists.overview(options.counter(), window, now(), { offset, limit }));
        }
        case "/api/artists": {
          const { q, offset, limit } = parseListQuery(url.searchParams);
          return json(lists.artists(options.counter(), q, now(), { offset, limit }));
        }
        case "/api/reconcile":
          return await reconcile();
        case "/healthz": {
          const { healthy, body } = options.health();
          return json(body, healthy ? 200 : 503);
        }
      }
      const page = await serveStatic(url.pathname);
      return page ?? json({ error: `Not found: ${url.pathname}` }, 404);
    } catch (error) {
      if (error instanceof QueryError) return json({ error: error.message }, 400);
      return json({ error: `Internal error: ${errorMessage(error)}` }, 500);
    }
  }

  return {
    handler,
    get streams() {
      return subscribers.size;
    },
    get dropped() {
      return dropped;
    },
    get resumed() {
      return resumed;
    },
    get builds() {
      return builds;
    },
    get refused() {
      return gate.refused;
    },
    close() {
      clearInterval(timer);
      for (const subscriber of subscribers) {
        try {
          subscriber.controller.close();
        } catch {
          // already closed
        }
        subscriber.release();
      }
      subscribers.clear();
    },
  };
}
