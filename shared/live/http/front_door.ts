/**
 * The dashboard's listening socket, in front of its HTTP server: it accepts
 * each connection itself and passes it on to the server listening on a Unix
 * socket, so that a connection can be timed out (`Deno.serve` closes none:
 * an idle keep-alive connection, or one that sends its request head a byte a
 * minute, stays open for as long as the client likes).
 *
 * - A request head must be complete within `headerTimeoutMs` of its first
 *   byte; else the connection is closed.
 * - A connection with no byte either way for `idleTimeoutMs` is closed (live
 *   streams send a heartbeat well within it).
 * - Requests carry no body here (the dashboard answers GET and HEAD only): a
 *   head announcing one is answered 413 and the connection closed; a head
 *   larger than `maxHeadBytes` is answered 431.
 * - Each head is passed on with the client's address appended as the last
 *   `x-livecharts-client` header; any the client sent are dropped. The server
 *   reads it with {@linkcode clientOf}.
 *
 * Written here: no package on the registry list wraps `Deno.serve`'s
 * connections with timeouts, and the relay is a head parser of a few lines
 * plus two byte pumps.
 *
 * @module
 */

import { logger } from "../../ops/mod.ts";

const log = logger("dashboard");

/** The header the front door adds to each request: the client's address. */
export const CLIENT_HEADER = "x-livecharts-client";

/** Options of {@linkcode openFrontDoor}. */
export interface FrontDoorOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Path of the Unix socket the HTTP server listens on (may be set later, on the door). */
  upstream: string;
  /** A request head must be complete this long after its first byte (default 10 s). */
  headerTimeoutMs?: number | undefined;
  /** A connection with no byte either way for this long is closed (default 60 s). */
  idleTimeoutMs?: number | undefined;
  /** Largest request head (default 16 KiB). */
  maxHeadBytes?: number | undefined;
}

/** Connections the front door closed, by reason. */
export interface FrontDoorClosed {
  /** A request head not complete in time. */
  header: number;
  /** No byte either way for the idle timeout. */
  idle: number;
  /** A request with a body, or a head too large. */
  refused: number;
}

/** A listening front door. */
export interface FrontDoor {
  readonly addr: Deno.NetAddr;
  /** Path of the Unix socket requests are passed on to. */
  upstream: string;
  /** Open connections. */
  readonly connections: number;
  readonly closed: Readonly<FrontDoorClosed>;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

/**
 * The client address the front door gave `request` (the last
 * `x-livecharts-client` header), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientOf } from "./front_door.ts";
 * const request = new Request("http://a/", {
 *   headers: [["x-livecharts-client", "10.0.0.1"], ["x-livecharts-client", "192.0.2.7"]],
 * });
 * assert.equal(clientOf(request), "192.0.2.7");
 * assert.equal(clientOf(new Request("http://a/")), undefined);
 * ```
 */
export function clientOf(request: Request): string | undefined {
  const value = request.headers.get(CLIENT_HEADER);
  if (value === null) return undefined;
  const last = value.slice(value.lastIndexOf(",") + 1).trim();
  return last === "" ? undefined : last;
}

/** What a request head says, as far as the front door needs. */
export type HeadVerdict =
  | { ok: true; head: Uint8Array }
  | { ok: false; status: 413 | 400; reason: string };

const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/**
 * `head` (a request head up to and including its blank line) with every
 * `x-livecharts-client` header dropped and `client`'s appended, or the
 * answer to give when the request announces a body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rewriteHead } from "./front_door.ts";
 * const text = (s: string) => new TextEncoder().encode(s);
 * const verdict = rewriteHead(
 *   text("GET / HTTP/1.1\r\nHost: a\r\nX-Livecharts-Client: 1.2.3.4\r\n\r\n"),
 *   "192.0.2.7",
 * );
 * assert.ok(verdict.ok);
 * assert.equal(
 *   new TextDecoder().decode(verdict.head),
 *   "GET / HTTP/1.1\r\nHost: a\r\nx-livecharts-client: 192.0.2.7\r\n\r\n",
 * );
 * const post = rewriteHead(text("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), "192.0.2.7");
 * assert.deepEqual(post, { ok: false, status: 413, reason: "a request body" });
 * ```
 */
export function rewriteHead(head: Uint8Array, client: string): HeadVerdict {
  const lines = latin1.decode(head).split("\r\n");
  // The head ends with an empty line; its text, split, ends with two empty parts.
  const kept: string[] = [];
  for (let i = 0; i < lines.length - 2; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = colon < 0 ? "" : line.slice(0, colon).trim().toLowerCase();
    if (i > 0 && colon < 0) return { ok: false, status: 400, reason: "a malformed header" };
    if (name === CLIENT_HEADER) continue;
    if (name === "transfer-encoding") return { ok: false, status: 413, reason: "a request body" };
    if (name === "content-length" && line.slice(colon + 1).trim() !== "0") {
      return { ok: false, status: 413, reason: "a request body" };
    }
    kept.push(line);
  }
  kept.push(`${CLIENT_HEADER}: ${client}`, "", "");
  return { ok: true, head: encoder.encode(kept.join("\r\n")) };
}

/** The end of the first head in `bytes` (just past its blank line), or -1. */
function headEnd(bytes: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
};

function refusal(status: number, reason: string): Uint8Array {
  const body = JSON.stringify({ error: `Refused: ${reason}` });
  return encoder.encode(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

interface Connection {
  client: Deno.Conn;
  upstream: Deno.Conn | undefined;
  /** When the first byte of a head not yet complete came, if one is under way. */
  headSince: number | undefined;
  lastByteAt: number;
  done: boolean;
}

/**
 * Listens on `hostname:port` and passes each connection's requests on to
 * the HTTP server on the Unix socket `upstream`, timing connections out as
 * the module notes say.
 */
export function openFrontDoor(options: FrontDoorOptions): FrontDoor {
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const maxHeadBytes = options.maxHeadBytes ?? 16 * 1024;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const open = new Set<Connection>();
  const closed: FrontDoorClosed = { header: 0, idle: 0, refused: 0 };

  function hangUp(connection: Connection): void {
    if (connection.done) return;
    connection.done = true;
    open.delete(connection);
    for (const conn of [connection.client, connection.upstream]) {
      try {
        conn?.close();
      } catch {
        // already closed
      }
    }
  }

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const connection of open) {
      if (connection.headSince !== undefined && now - connection.headSince >= headerTimeoutMs) {
        closed.header++;
        hangUp(connection);
      } else if (now - connection.lastByteAt >= idleTimeoutMs) {
        closed.idle++;
        hangUp(connection);
      }
    }
  }, Math.max(10, Math.min(1_000, Math.floor(Math.min(headerTimeoutMs, idleTimeoutMs) / 4))));

  /** The server's bytes to the client, as they come. */
  async function answers(connection: Connection, upstream: Deno.Conn): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await upstream.read(chunk);
        if (n === null) break;
        connection.lastByteAt = Date.now();
        await writeAll(connection.client, chunk.subarray(0, n));
      }
    } catch {
      // either side went away
    }
    hangUp(connection);
  }

  /** The client's request heads to the server, each rewritten. */
  async function requests(connection: Connection): Promise<void> {
    const client = connection.client.remoteAddr;
    const address = client.transport === "tcp" ? client.hostname : "unknown";
    // Grown as a head needs it, up to the largest allowed: a connection
    // waiting on its answers holds a small buffer.
    let pending = new Uint8Array(2048);
    let length = 0;
    const tooLarge = async () => {
      await writeAll(connection.client, refusal(431, "a request head too large"));
      closed.refused++;
      hangUp(connection);
    };
    try {
      for (;;) {
        if (length === pending.length) {
          if (length > maxHeadBytes) return await tooLarge();
          const grown = new Uint8Array(Math.min(pending.length * 2, maxHeadBytes + 4));
          grown.set(pending);
          pending = grown;
        }
        const n = await connection.client.read(pending.subarray(length));
        if (n === null) break;
        connection.lastByteAt = Date.now();
        connection.headSince ??= connection.lastByteAt;
        length += n;
        let end: number;
        while ((end = headEnd(pending, length)) > 0) {
          if (end > maxHeadBytes) return await tooLarge();
          const verdict = rewriteHead(pending.subarray(0, end), address);
          if (!verdict.ok) {
            await writeAll(connection.client, refusal(verdict.status, verdict.reason));
            closed.refused++;
            hangUp(connection);
            return;
          }
          if (connection.upstream === undefined) {
            const upstream = await Deno.connect({ transport: "unix", path: door.upstream });
            connection.upstream = upstream;
            if (connection.done) return;
            answers(connection, upstream);
          }
          await writeAll(connection.upstream, verdict.head);
          pending.copyWithin(0, end, length);
          length -= end;
          connection.headSince = length > 0 ? Date.now() : undefined;
        }
        if (length > maxHeadBytes) return await tooLarge();
      }
    } catch (error) {
      if (!connection.done) {
        log.debug("A connection from {client} ended: {error}", { client: address, error });
      }
    } finally {
      // The client said all it will: the answers already asked for still go out.
      if (connection.upstream === undefined) hangUp(connection);
    }
  }

  const accepting = (async () => {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        return; // closed
      }
      const connection: Connection = {
        client,
        upstream: undefined,
        headSince: undefined,
        lastByteAt: Date.now(),
        done: false,
      };
      open.add(connection);
      requests(connection);
    }
  })();

  const door: FrontDoor = {
    addr: listener.addr,
    upstream: options.upstream,
    get connections() {
      return open.size;
    },
    closed,
    async close() {
      clearInterval(sweep);
      listener.close();
      await accepting;
      for (const connection of open) hangUp(connection);
    },
  };
  return door;
}
