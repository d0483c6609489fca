// The dashboard's front door on real sockets (loopback TCP in front, a Unix
// socket behind): requests pass with the client's address, slow heads and
// idle connections are closed, bodies and oversized heads refused.

import assert from "node:assert/strict";
import { openFrontDoor } from "../../shared/live/http/front_door.ts";
import { test } from "../support/integration.ts";

const text = new TextEncoder();

/** A server on a Unix socket that answers with the client header it got, and a slow stream. */
async function upstream() {
  const dir = await Deno.makeTempDir({ prefix: "livecharts-door-" });
  const path = `${dir}/http.sock`;
  const seen: string[] = [];
  const server = Deno.serve({ path, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    seen.push(url.pathname);
    if (url.pathname === "/stream") {
      let ticks = 0;
      let timer: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          timer = setInterval(() => {
            controller.enqueue(text.encode("tick\n"));
            if (++ticks === 10) {
              clearInterval(timer);
              controller.close();
            }
          }, 200);
        },
        cancel: () => clearInterval(timer),
      });
      return new Response(body);
    }
    return new Response(`${url.pathname} ${request.headers.get("x-livecharts-client")}`);
  });
  return {
    path,
    seen,
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Reads until the server closes the connection; the text read and how long it took. */
async function readToClose(conn: Deno.Conn, timeoutMs: number) {
  const started = Date.now();
  const chunks: string[] = [];
  const buffer = new Uint8Array(4096);
  const deadline = setTimeout(() => conn.close(), timeoutMs);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(new TextDecoder().decode(buffer.subarray(0, n)));
    }
  } catch {
    // closed by the deadline
  } finally {
    clearTimeout(deadline);
  }
  return { text: chunks.join(""), ms: Date.now() - started };
}

test("front door passes requests on with the client's address, never a forged one", async () => {
  const server = await upstream();
  const door = openFrontDoor({ hostname: "127.0.0.1", port: 0, upstream: server.path });
  const url = `http://127.0.0.1:${door.addr.port}`;
  try {
    const plain = await fetch(`${url}/a`);
    assert.equal(await plain.text(), "/a 127.0.0.1");
    const forged = await fetch(`${url}/b`, { headers: { "x-livecharts-client": "203.0.113.9" } });
    assert.equal(await forged.text(), "/b 127.0.0.1");

    // Two requests sent at once on one connection: both answered, in order.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
    await conn.write(text.encode(
      "GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ));
    const { text: answers } = await readToClose(conn, 5_000);
    assert.match(answers, /\/c 127\.0\.0\.1[\s\S]*\/d 127\.0\.0\.1/);
    assert.deepEqual(server.seen, ["/a", "/b", "/c", "/d"]);
  } finally {
    await door.close();
    await server.close();
  }
});

test("front door closes a head that is not complete in time and an idle connection, not a live stream", async () => {
  const server = await upstream();
  const door = openFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    upstream: server.path,
    headerTimeoutMs: 400,
    idleTimeoutMs: 1_000,
  });
  try {
    // A head sent a few bytes at a time, never finished.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
    await slow.write(text.encode("GET / HTTP/1.1\r\nHo"));
    const cut = await readToClose(slow, 10_000);
    assert.equal(cut.text, "");
    assert.ok(cut.ms >= 350 && cut.ms < 5_000, `closed after ${cut.ms} ms`);
    assert.equal(door.closed.header, 1, "the fault happened: closed for its head");

    // A connection that says nothing.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
    const quiet = await readToClose(idle, 10_000);
    assert.ok(quiet.ms >= 950 && quiet.ms < 6_000, `closed after ${quiet.ms} ms`);
    assert.equal(door.closed.idle, 1);

    // Bytes every 200 ms for 2 s keep a stream open past the idle timeout.
    const stream = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
    await stream.write(text.encode("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const streamed = await readToClose(stream, 10_000);
    assert.equal(streamed.text.match(/tick/g)?.length, 10);
    assert.ok(streamed.ms >= 1_900, `streamed for ${streamed.ms} ms`);
    assert.deepEqual(door.closed, { header: 1, idle: 1, refused: 0 });
    assert.deepEqual(server.seen, ["/stream"], "the unfinished head never reached the server");
  } finally {
    await door.close();
    await server.close();
  }
});

test("front door refuses a request body (413) and a head too large (431)", async () => {
  const server = await upstream();
  const door = openFrontDoor({
    hostname: "127.0.0.1",
    port: 0,
    upstream: server.path,
    maxHeadBytes: 1_024,
  });
  try {
    const post = await fetch(`http://127.0.0.1:${door.addr.port}/x`, { method: "POST", body: "x" });
    assert.equal(post.status, 413);
    assert.deepEqual(await post.json(), { error: "Refused: a request body" });

    const big = await Deno.connect({ hostname: "127.0.0.1", port: door.addr.port });
    await big.write(
      text.encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2_000)}\r\n\r\n`),
    );
    const answer = await readToClose(big, 5_000);
    assert.match(answer.text, /^HTTP\/1\.1 431 /);
    assert.equal(door.closed.refused, 2);
    assert.deepEqual(server.seen, []);
  } finally {
    await door.close();
    await server.close();
  }
});
