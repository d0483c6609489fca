import assert from "node:assert/strict";
import {
  createDashboardHandler,
  type DashboardHandlerOptions,
  parseTopQuery,
  QueryError,
  type TopDocument,
} from "../../shared/live/http/server.ts";
import type { SongCompleted } from "../../shared/event.ts";
import type { LiveStatus } from "../../shared/live/feed/live_feed.ts";
import { createReconcileGate } from "../../shared/live/reconcile/reconcile_gate.ts";
import { createPlayCounter, seriesLayout } from "../../shared/live/counting/windows.ts";

const NOW = Date.UTC(2026, 10, 24, 12);
let clock = NOW;

function play(songId: number, songName: string, overrides: Partial<SongCompleted> = {}) {
  return {
    event_id: crypto.randomUUID(),
    user_id: 1,
    artist: "tony-allen",
    song_id: songId,
    song_name: songName,
    event_type: "song_completed" as const,
    timestamp: new Date(clock - 1_000).toISOString(),
    ...overrides,
  };
}

function setup(overrides: Partial<DashboardHandlerOptions> = {}) {
  clock = NOW;
  const counter = createPlayCounter({ now: NOW });
  const status: Pick<LiveStatus, "state" | "problems"> = { state: "live", problems: [] };
  const dashboard = createDashboardHandler({
    counter: () => counter,
    status: () => status,
    staticDir: new URL("../../web/", import.meta.url),
    health: () => ({ healthy: true, body: { status: "ok" } }),
    reconcile: createReconcileGate({
      run: () => Promise.reject(new Error("BigQuery is away")),
      minIntervalMs: 60_000,
      now: () => clock,
    }),
    tickMs: 20,
    now: () => clock,
    ...overrides,
  });
  const get = (path: string, init?: RequestInit) =>
    dashboard.handler(new Request(`http://127.0.0.1${path}`, init));
  return { counter, dashboard, get, status };
}

Deno.test("parseTopQuery() fills defaults and rejects bad values", () => {
  assert.deepEqual(parseTopQuery(new URLSearchParams()), {
    artist: "tony-allen",
    window: "1h",
    limit: 10,
  });
  assert.deepEqual(parseTopQuery(new URLSearchParams("artist=fela-kuti&window=all&limit=3")), {
    artist: "fela-kuti",
    window: "all",
    limit: 3,
  });
  for (const query of ["window=2h", "window=", "limit=0", "limit=101", "limit=5.5", "limit=x"]) {
    assert.throws(() => parseTopQuery(new URLSearchParams(query)), QueryError, query);
  }
  for (const artist of ["<script>", "Tony Allen", "a".repeat(129), ""]) {
    assert.throws(
      () => parseTopQuery(new URLSearchParams({ artist })),
      /Invalid 'artist': expected a slug like "tony-allen"/,
    );
  }
});

Deno.test("GET /api/top answers the documented shape", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  counter.add(play(1, "zombie"));
  counter.add(play(3, "secret-agent"));
  const response = await get("/api/top?artist=tony-allen&window=5m&limit=10");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^application\/json/);
  const doc: TopDocument = await response.json();
  const layout = seriesLayout("5m", NOW);
  const seriesWith = (plays: number) => [...new Array(layout.points - 2).fill(0), plays, 0];
  assert.deepEqual(doc, {
    artist: "tony-allen",
    window: "5m",
    from: new Date(NOW - 5 * 60_000).toISOString(),
    updated_at: new Date(NOW).toISOString(),
    total: 3,
    songs: [
      { song_id: 1, song_name: "zombie", plays: 2, rank_change: "new", series: seriesWith(2) },
      {
        song_id: 3,
        song_name: "secret-agent",
        plays: 1,
        rank_change: "new",
        series: seriesWith(1),
      },
    ],
    // Points of 6 s aligned to the epoch: the plays (1 s ago) are in the one before now's.
    series: {
      from: new Date(layout.from).toISOString(),
      point_ms: 6_000,
      points: layout.points,
      total: seriesWith(3),
    },
    plays_per_second: 0.05,
    last_event_at: new Date(NOW - 1_000).toISOString(),
    newest_event_at: new Date(NOW - 1_000).toISOString(),
    kafka_lag: null,
    state: "live",
    problems: [],
  });
  dashboard.close();
});

Deno.test("GET /api/top answers an unknown artist with an empty list", async () => {
  const { dashboard, get } = setup();
  const doc = await (await get("/api/top?artist=nobody-here&window=all")).json();
  assert.deepEqual([doc.total, doc.songs, doc.from, doc.last_event_at], [0, [], null, null]);
  dashboard.close();
});

Deno.test("bad parameters, paths and methods get JSON errors", async () => {
  const { dashboard, get } = setup();
  const bad = await get("/api/top?window=week");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^Invalid 'window': expected one of 5m, 1h, 24h, all/);
  assert.equal((await get("/api/stream?limit=1000")).status, 400);
  const missing = await get("/../deno.json");
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error, /^Not found/);
  const post = await get("/api/top", { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
  const reconcile = await get("/api/reconcile");
  assert.equal(reconcile.status, 503);
  assert.ok(Number(reconcile.headers.get("retry-after")) > 0);
  assert.match((await reconcile.json()).error, /BigQuery is away/);
  dashboard.close();
});

Deno.test("GET /api/reconcile is cached between runs, and answers 403 when turned off", async () => {
  let runs = 0;
  const { dashboard, get } = setup({
    reconcile: createReconcileGate({
      run: () => Promise.resolve({ checked_at: `run ${++runs}`, equal: true, windows: [] }),
      minIntervalMs: 60_000,
      now: () => clock,
    }),
  });
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => get("/api/reconcile").then((r) => r.json())),
  );
  assert.equal(runs, 1, "concurrent requests share one run");
  assert.ok(answers.every((answer) => answer.checked_at === "run 1"));
  clock += 30_000;
  const cached = await (await get("/api/reconcile")).json();
  assert.deepEqual([cached.checked_at, cached.cached, runs], ["run 1", true, 1]);
  clock += 30_000;
  const fresh = await (await get("/api/reconcile")).json();
  assert.deepEqual([fresh.checked_at, fresh.cached, runs], ["run 2", false, 2]);
  dashboard.close();

  const off = setup({ reconcile: undefined });
  const forbidden = await off.get("/api/reconcile");
  assert.equal(forbidden.status, 403);
  assert.match((await forbidden.json()).error, /turned off/);
  off.dashboard.close();
});

Deno.test("GET /healthz answers 503 when the dashboard cannot count", async () => {
  const { dashboard, get } = setup({
    health: () => ({ healthy: false, body: { status: "down", problems: ["Kafka: gone"] } }),
  });
  const response = await get("/healthz");
  assert.equal(response.status, 503);
  assert.deepEqual((await response.json()).problems, ["Kafka: gone"]);
  dashboard.close();
});

Deno.test("documents carry the state and the problems, and a change of them is pushed", async () => {
  const { dashboard, get, status } = setup();
  status.state = "degraded";
  status.problems = ["BigQuery unreachable (connection refused): the history is missing"];
  const doc = await (await get("/api/top?window=all")).json();
  assert.deepEqual([doc.state, doc.problems], [status.state, status.problems]);
  const response = await get("/api/stream?window=all");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const buffer = { text: "" };
  await nextFrame(reader, buffer);
  assert.equal(
    JSON.parse((await nextFrame(reader, buffer)).replace(/^id: \d+\ndata: /, "")).state,
    "degraded",
  );
  status.state = "live";
  status.problems = [];
  const next = JSON.parse((await nextFrame(reader, buffer)).replace(/^id: \d+\ndata: /, ""));
  assert.deepEqual([next.state, next.problems], ["live", []]);
  await reader.cancel();
  dashboard.close();
});

Deno.test("GET / serves the page with a strict content security policy", async () => {
  const { dashboard, get } = setup();
  const page = await get("/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script src="\/app.js" defer><\/script>/);
  assert.doesNotMatch(html, /https?:\/\/(?!127)/, "no CDN");
  for (const path of ["/app.js", "/style.css", "/favicon.svg"]) {
    const response = await get(path);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
  }
  dashboard.close();
});

Deno.test("GET /api/artists and /healthz answer JSON", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie", { artist: "fela-kuti" }));
  assert.deepEqual(await (await get("/api/artists")).json(), {
    q: "",
    count: 1,
    offset: 0,
    limit: 100,
    artists: [{ artist: "fela-kuti", plays: 1 }],
  });
  assert.deepEqual(await (await get("/healthz")).json(), { status: "ok" });
  dashboard.close();
});

async function nextFrame(
  reader: ReadableStreamDefaultReader<string>,
  buffer: { text: string },
): Promise<string> {
  for (;;) {
    const end = buffer.text.indexOf("\n\n");
    if (end !== -1) {
      const frame = buffer.text.slice(0, end);
      buffer.text = buffer.text.slice(end + 2);
      return frame;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended");
    buffer.text += value;
  }
}

Deno.test("GET /api/stream pushes the document at once and again when it changes", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  const response = await get("/api/stream?artist=tony-allen&window=5m");
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const buffer = { text: "" };
  assert.equal(await nextFrame(reader, buffer), "retry: 2000");
  const first: TopDocument = JSON.parse(
    (await nextFrame(reader, buffer)).replace(/^id: \d+\ndata: /, ""),
  );
  assert.equal(first.total, 1);
  assert.equal(dashboard.streams, 1);

  // The clock alone moving (same counts) sends nothing; a new play does.
  clock += 200;
  await new Promise((resolve) => setTimeout(resolve, 60));
  counter.add(play(2, "lady"));
  counter.add(play(2, "lady"));
  const second: TopDocument = JSON.parse(
    (await nextFrame(reader, buffer)).replace(/^id: \d+\ndata: /, ""),
  );
  assert.deepEqual(second.songs.map((s) => [s.song_id, s.plays]), [[2, 2], [1, 1]]);
  assert.equal(second.updated_at, new Date(NOW + 200).toISOString());

  // Plays ageing out are pushed too, without any new event.
  clock += 5 * 60_000;
  const third: TopDocument = JSON.parse(
    (await nextFrame(reader, buffer)).replace(/^id: \d+\ndata: /, ""),
  );
  assert.deepEqual([third.total, third.songs], [0, []]);

  await reader.cancel();
  for (let i = 0; i < 50 && dashboard.streams > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(dashboard.streams, 0, "a closed connection unsubscribes");
  dashboard.close();
});

Deno.test("GET /api/stream sends ping events to keep quiet connections alive", async () => {
  const { dashboard, get } = setup({ heartbeatMs: 50 });
  const response = await get("/api/stream?window=all");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const buffer = { text: "" };
  await nextFrame(reader, buffer);
  await nextFrame(reader, buffer);
  clock += 100;
  assert.equal(await nextFrame(reader, buffer), "event: ping\ndata: {}");
  dashboard.close();
  const { done } = await reader.read();
  assert.equal(done, true, "close() ends open streams");
});

Deno.test("a viewer that does not read holds one frame, the latest, and is cut off when stalled", async () => {
  const { counter, dashboard, get } = setup({ stallTimeoutMs: 500 });
  const response = await get("/api/stream?artist=tony-allen&window=5m");
  // Nothing is read from the body while plays keep changing the document.
  for (let i = 0; i < 20; i++) {
    counter.add(play(1, "zombie"));
    clock += 10;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.equal(dashboard.streams, 1);
  // What was kept for it: the first frame and the newest document only.
  // (Read without a pipe, which would keep pulling in the background.)
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const read = async () => decoder.decode((await reader.read()).value);
  assert.equal(await read(), "retry: 2000\n\n");
  const kept = JSON.parse((await read()).replace(/^id: \d+\ndata: /, ""));
  assert.equal(kept.total, 20, "the latest state, not each one in between");

  // Now it stops reading for good: after the stall timeout it is dropped.
  counter.add(play(2, "lady"));
  clock += 600;
  await new Promise((resolve) => setTimeout(resolve, 100));
  counter.add(play(2, "lady"));
  for (let i = 0; i < 50 && dashboard.streams > 0; i++) {
    clock += 100;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(dashboard.streams, 0);
  assert.equal(dashboard.dropped, 1);
  await assert.rejects(async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  }, /stopped reading/);
  dashboard.close();
});

Deno.test("GET /api/top.csv and /api/top.json export the numbers of /api/top", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  counter.add(play(1, "zombie"));
  counter.add(play(3, 'say "hi", =then'));
  const query = "?artist=tony-allen&window=5m&limit=10";
  const top = await (await get(`/api/top${query}`)).json();

  const json = await get(`/api/top.json${query}`);
  assert.equal(json.status, 200);
  assert.match(json.headers.get("content-disposition")!, /^attachment; filename="tony-allen-5m-/);
  assert.deepEqual(await json.json(), top);

  const csv = await get(`/api/top.csv${query}`);
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-type")!, /^text\/csv/);
  assert.match(csv.headers.get("content-disposition")!, /filename="tony-allen-5m-.+\.csv"/);
  const lines = (await csv.text()).split("\r\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines[0], "artist,window,from,updated_at,rank,song_id,song_name,plays,rank_change");
  const rows = lines.slice(1).map((line) => {
    const fields = line.match(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)!.map((field) =>
      field.replace(/,$/, "").replace(/^"(.*)"$/, "$1").replaceAll('""', '"')
    );
    return { song_id: Number(fields[5]), name: fields[6], plays: Number(fields[7]) };
  });
  assert.deepEqual(
    rows,
    top.songs.map((song: { song_id: number; song_name: string; plays: number }) => ({
      song_id: song.song_id,
      name: song.song_name,
      plays: song.plays,
    })),
  );
  assert.equal(rows[1]!.name, `say "hi", =then`);
  const bad = await get("/api/top.csv?window=2h");
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  dashboard.close();
});

Deno.test("GET /api/overview/stream pushes a page of the overview at once and again when its artists change", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  const response = await get("/api/overview/stream?window=5m&limit=2");
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const buffer = { text: "" };
  assert.equal(await nextFrame(reader, buffer), "retry: 2000");
  const page = async () => {
    for (;;) {
      const frame = await nextFrame(reader, buffer);
      if (frame.startsWith("id: ")) return JSON.parse(frame.replace(/^id: \d+\ndata: /, ""));
    }
  };
  const first = await page();
  assert.deepEqual(
    [
      first.window,
      first.count,
      first.limit,
      first.artists.map((a: { artist: string }) => a.artist),
    ],
    ["5m", 1, 2, ["tony-allen"]],
  );
  assert.equal(dashboard.streams, 1);

  // The clock alone moving sends nothing; plays of another artist are
  // pushed once the list is ordered again (at most once a second).
  clock += 200;
  await new Promise((resolve) => setTimeout(resolve, 60));
  counter.add(play(1, "water-no-get-enemy", { artist: "fela-kuti" }));
  counter.add(play(1, "water-no-get-enemy", { artist: "fela-kuti" }));
  clock += 1_000;
  const second = await page();
  assert.equal(second.count, 2);
  assert.deepEqual(
    second.artists.map((a: { artist: string; total: number }) => [a.artist, a.total]),
    [["fela-kuti", 2], ["tony-allen", 1]],
  );

  // Plays ageing out are pushed too.
  clock += 5 * 60_000;
  const third = await page();
  assert.deepEqual([third.count, third.artists], [0, []]);

  assert.equal((await get("/api/overview/stream?window=2h")).status, 400);
  await reader.cancel();
  for (let i = 0; i < 50 && dashboard.streams > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(dashboard.streams, 0, "a closed connection unsubscribes");
  dashboard.close();
});

Deno.test("GET /api/overview: every artist's total equals /api/top's, most played first", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  counter.add(play(2, "lady"));
  counter.add(play(2, "lady"));
  counter.add(play(1, "water-no-get-enemy", { artist: "fela-kuti" }));
  counter.add(
    play(5, "old", { artist: "ebo-taylor", timestamp: new Date(NOW - 7_200_000).toISOString() }),
  );
  for (const window of ["5m", "1h", "24h", "all"]) {
    const overview = await (await get(`/api/overview?window=${window}`)).json();
    assert.equal(overview.window, window);
    for (const entry of overview.artists) {
      const top = await (await get(`/api/top?artist=${entry.artist}&window=${window}`)).json();
      assert.equal(entry.total, top.total, `${entry.artist} ${window}`);
      assert.deepEqual(
        entry.top,
        top.songs[0]
          ? {
            song_id: top.songs[0].song_id,
            song_name: top.songs[0].song_name,
            plays: top.songs[0].plays,
          }
          : null,
      );
    }
    const names = overview.artists.map((entry: { artist: string }) => entry.artist);
    assert.deepEqual(
      names,
      window === "24h" || window === "all"
        ? ["tony-allen", "ebo-taylor", "fela-kuti"]
        : ["tony-allen", "fela-kuti"],
    );
  }
  const page = await get("/overview");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  assert.match(await page.text(), /<script src="\/overview.js" defer>/);
  const bad = await get("/api/overview?window=2h");
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  dashboard.close();
});

Deno.test("GET /api/stream: frames carry ids, a reconnect starts with the current full state", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  const open = async (headers: Record<string, string> = {}) => {
    const response = await get("/api/stream?artist=tony-allen&window=5m", { headers });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const buffer = { text: "" };
    assert.equal(await nextFrame(reader, buffer), "retry: 2000");
    const frame = await nextFrame(reader, buffer);
    const [, id, data] = /^id: (\d+)\ndata: (.*)$/.exec(frame)!;
    return { reader, id: Number(id), doc: JSON.parse(data!) as TopDocument };
  };
  const first = await open();
  assert.equal(first.doc.total, 1);
  await first.reader.cancel();

  // Plays while the viewer is away: the reconnect's first frame has them all.
  counter.add(play(2, "lady"));
  counter.add(play(2, "lady"));
  clock += 1_000;
  const again = await open({ "last-event-id": String(first.id) });
  assert.ok(again.id > first.id);
  const top: TopDocument = await (await get("/api/top?artist=tony-allen&window=5m")).json();
  assert.deepEqual(again.doc, top);
  assert.equal(dashboard.resumed, 1);
  await again.reader.cancel();
  dashboard.close();
});

Deno.test("GET /api/stream sends a viewer at most four documents a second, however fast plays come", async () => {
  const { counter, dashboard, get } = setup({ tickMs: 250 });
  const response = await get("/api/stream?artist=tony-allen&window=5m");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  })();
  const started = Date.now();
  let plays = 0;
  while (Date.now() - started < 1_000) {
    counter.add(play(1 + (plays % 3), "song"));
    plays++;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await reader.cancel();
  await reading.catch(() => {});
  const documents = text.split("\n\n").filter((frame) => /^id: \d+\ndata: /.test(frame)).length;
  assert.ok(plays > 50, `${plays} plays`);
  // The first document at once, then one per 250 ms tick at most.
  assert.ok(documents >= 2 && documents <= 5, `${documents} documents in a second`);
  dashboard.close();
});

Deno.test("GET /api/stream is capped in all and per client: 503 with Retry-After beyond", async () => {
  const { dashboard } = setup({ streamCaps: { maxStreams: 3, maxPerClient: 2 } });
  const open = (client: string) =>
    dashboard.handler(new Request("http://127.0.0.1/api/stream?artist=tony-allen"), client);
  try {
    const a1 = await open("10.0.0.1");
    const a2 = await open("10.0.0.1");
    assert.deepEqual([a1.status, a2.status], [200, 200]);
    const a3 = await open("10.0.0.1");
    assert.equal(a3.status, 503);
    assert.equal(a3.headers.get("retry-after"), "10");
    assert.match((await a3.json()).error, /from 10\.0\.0\.1: at most 2 per client/);
    const b1 = await open("10.0.0.2");
    assert.equal(b1.status, 200);
    const b2 = await open("10.0.0.3");
    assert.equal(b2.status, 503);
    assert.match((await b2.json()).error, /at most 3 in all/);
    assert.equal(dashboard.refused, 2);
    // A stream that ends frees its place.
    await a1.body!.cancel();
    const c = await open("10.0.0.3");
    assert.equal(c.status, 200);
    assert.equal(dashboard.streams, 3);
    for (const response of [a2, b1, c]) await response.body!.cancel();
    assert.equal(dashboard.streams, 0);
  } finally {
    dashboard.close();
  }
});

Deno.test("GET /api/artists and /api/overview answer a page, /api/artists a search", async () => {
  const { counter, dashboard, get } = setup();
  for (let artist = 0; artist < 250; artist++) {
    for (let n = 0; n <= artist % 7; n++) {
      counter.add(play(1 + (n % 3), "zombie", { artist: `artist-${artist}` }));
    }
  }
  const first = await (await get("/api/artists?limit=10")).json();
  assert.equal(first.count, 250);
  assert.equal(first.artists.length, 10);
  assert.deepEqual(first.artists[0], { artist: "artist-104", plays: 7 });
  const last = await (await get("/api/artists?offset=240&limit=1000")).json();
  assert.equal(last.artists.length, 10);
  assert.deepEqual(last.artists.at(-1), { artist: "artist-98", plays: 1 });
  const found = await (await get("/api/artists?q=artist-24")).json();
  assert.deepEqual(
    found.artists.map((entry: { artist: string }) => entry.artist),
    [
      ...["artist-244", "artist-243", "artist-242", "artist-249", "artist-24", "artist-241"],
      ...["artist-248", "artist-240", "artist-247", "artist-246", "artist-245"],
    ],
  );
  assert.equal(found.count, 11);
  const overview = await (await get("/api/overview?window=5m&offset=100&limit=50")).json();
  assert.deepEqual([overview.count, overview.offset, overview.limit, overview.artists.length], [
    250,
    100,
    50,
    50,
  ]);
  for (
    const bad of ["/api/artists?limit=1001", "/api/artists?q=%3Cb%3E", "/api/overview?offset=-1"]
  ) {
    const response = await get(bad);
    assert.equal(response.status, 400, bad);
    await response.body?.cancel();
  }
  dashboard.close();
});

Deno.test("GET /api/stream builds a view once however many watch it, and again only when its artist's counts change or a second passes", async () => {
  const { counter, dashboard, get } = setup();
  counter.add(play(1, "zombie"));
  counter.add(play(1, "water-no-get-enemy", { artist: "fela-kuti" }));
  const readers = [];
  for (const artist of ["tony-allen", "tony-allen", "tony-allen", "fela-kuti"]) {
    const response = await get(`/api/stream?artist=${artist}&window=5m`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const buffer = { text: "" };
    assert.equal(await nextFrame(reader, buffer), "retry: 2000");
    assert.match(await nextFrame(reader, buffer), /^id: \d+\ndata: /);
    readers.push(reader);
  }
  const ticks = (n: number) => new Promise((resolve) => setTimeout(resolve, 20 * n));
  assert.equal(dashboard.builds, 2, "one build per view, not per viewer");
  await ticks(5);
  assert.equal(dashboard.builds, 2, "nothing changed: nothing built");
  counter.add(play(2, "lady"));
  await ticks(5);
  assert.equal(dashboard.builds, 3, "a play of one artist: that view alone");
  clock += 1_000;
  await ticks(5);
  assert.equal(dashboard.builds, 5, "a second later: each view once");
  for (const reader of readers) await reader.cancel();
  dashboard.close();
});
