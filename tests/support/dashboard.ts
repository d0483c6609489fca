/**
 * Helpers for the dashboard's integration and browser tests: fresh names,
 * its JSON API, BigQuery's answer for the same window, and known plays. The
 * dashboard itself runs through `startDashboard` of bench/dashboard.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DashboardNames } from "../../bench/dashboard.ts";
import { consumerArgs, query, runScript, uniqueName, warehouseFor } from "./harness.ts";

/** Fresh names for a test. */
export function dashboardNames(): DashboardNames {
  const id = uniqueName("dash");
  return { topic: id, table: id, group: `group_${id}`, view: `${id}_top_songs` };
}

/** GETs `path` and parses the JSON body. */
export async function getJson(
  url: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(path, url));
  return { status: response.status, body: await response.json() };
}

/** BigQuery's `COUNT(DISTINCT event_id)` per song of `artist` since `from`. */
export async function bigqueryTop(
  table: string,
  artist: string,
  from: string | null,
): Promise<{ song_id: number; plays: number }[]> {
  const rows = await query(
    warehouseFor(table),
    `SELECT song_id, COUNT(DISTINCT event_id) AS plays
     FROM \`livecharts-local.music.${table}\`
     WHERE artist = @artist ${from === null ? "" : "AND timestamp >= TIMESTAMP(@from)"}
     GROUP BY song_id
     ORDER BY plays DESC, song_id`,
    from === null ? { artist } : { artist, from },
  );
  return rows.map((row) => ({ song_id: Number(row.song_id), plays: Number(row.plays) }));
}

/** A valid event for `artist`/`song_id` at `at` (ms). */
export function playAt(
  at: number,
  songId: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    user_id: 1 + Math.floor(Math.random() * 1_000),
    artist: "tony-allen",
    song_id: songId,
    song_name: ["zombie", "lady", "secret-agent", "kindness", "soldiers"][songId - 1] ??
      `song-${songId}`,
    event_type: "song_completed",
    timestamp: new Date(at).toISOString(),
    ...overrides,
  };
}

/**
 * A known mix around `now`: every window boundary, two artists, duplicates,
 * tutorial-format events and invalid messages.
 */
export function knownMix(now: number): string[] {
  const second = 1_000;
  const minute = 60 * second;
  const hour = 60 * minute;
  const ages = [
    10 * second,
    40 * second,
    3 * minute,
    20 * minute,
    50 * minute,
    2 * hour,
    20 * hour,
    30 * hour,
    10 * 24 * hour,
  ];
  const events: Record<string, unknown>[] = [];
  ages.forEach((age, i) => {
    for (let song = 1; song <= 5; song++) {
      // Song popularity differs per age, so each window has its own order.
      for (let n = 0; n < ((song * (i + 2)) % 4) + 1; n++) events.push(playAt(now - age, song));
    }
    events.push(playAt(now - age, 1, { artist: "fela-kuti", song_name: "water-no-get-enemy" }));
  });
  const duplicates = events.filter((_, i) => i % 7 === 0);
  const tutorial = [
    {
      user_id: 5,
      artist: "tony-allen",
      song_id: 2,
      song_name: "lady",
      event_type: "song_completed",
      timestamp: "2022-11-03 07:22:13",
    },
    {
      user_id: 6,
      artist: "tony-allen",
      song_id: 4,
      song_name: "kindness",
      event_type: "song_completed",
      timestamp: new Date(now - 90 * second).toISOString().replace("T", " ").slice(0, 19),
    },
  ];
  const invalid = ["not json", JSON.stringify({ ...playAt(now, 1), song_id: "one" })];
  return [...events, ...duplicates, ...tutorial].map((event) => JSON.stringify(event))
    .concat(invalid);
}

/** Windows asked for by {@linkcode dashboardState}. */
const WINDOWS = ["5m", "1h", "24h", "all"] as const;

/** One `/api/top` answer reduced to what must match: window start, total, plays per song. */
export interface WindowState {
  from: string | null;
  total: number;
  songs: [song_id: number, plays: number][];
}

/** Every artist of all time as `/api/artists` lists them, a page of 1,000 at a time. */
export async function allArtists(url: string): Promise<{ artist: string; plays: number }[]> {
  const artists: { artist: string; plays: number }[] = [];
  for (let offset = 0;; offset += 1_000) {
    const { status, body } = await getJson(url, `/api/artists?limit=1000&offset=${offset}`);
    if (status !== 200) throw new Error(`/api/artists answered ${status}: ${JSON.stringify(body)}`);
    const page = body.artists as { artist: string; plays: number }[];
    artists.push(...page);
    if (page.length < 1_000) return artists;
  }
}

/** Every artist's every window as a dashboard serves it, keyed `artist window`. */
export async function dashboardState(url: string): Promise<Map<string, WindowState>> {
  const artists = await allArtists(url);
  const state = new Map<string, WindowState>();
  for (const { artist } of artists) {
    for (const window of WINDOWS) {
      const { status, body } = await getJson(
        url,
        `/api/top?artist=${artist}&window=${window}&limit=100`,
      );
      if (status !== 200) throw new Error(`/api/top answered ${status}: ${JSON.stringify(body)}`);
      const songs = body.songs as { song_id: number; plays: number }[];
      state.set(`${artist} ${window}`, {
        from: body.from as string | null,
        total: body.total as number,
        songs: songs.map((song) => [song.song_id, song.plays]),
      });
    }
  }
  return state;
}

/**
 * BigQuery's full recount for every artist and window of `state`, each
 * with the same `from`: `COUNT(DISTINCT event_id)` per song; also all time
 * of each artist in the table that `state` lacks (of those `owned` says
 * the dashboard serves: default all).
 */
export async function bigqueryState(
  table: string,
  state: ReadonlyMap<string, WindowState>,
  owned: (artist: string) => boolean = () => true,
): Promise<Map<string, WindowState>> {
  const recount = new Map<string, WindowState>();
  const artists = new Set([...state.keys()].map((key) => key.split(" ")[0]!));
  const extra = await query(
    warehouseFor(table),
    `SELECT DISTINCT artist FROM \`livecharts-local.music.${table}\``,
  );
  for (const row of extra) if (owned(String(row.artist))) artists.add(String(row.artist));
  for (const artist of artists) {
    for (const window of WINDOWS) {
      const from = state.get(`${artist} ${window}`)?.from ?? null;
      // An artist the dashboard does not know: all time, and no window start to compare.
      if (window !== "all" && !state.has(`${artist} ${window}`)) continue;
      const songs = (await bigqueryTop(table, artist, from)).filter((song) => song.plays > 0);
      recount.set(`${artist} ${window}`, {
        from,
        total: songs.reduce((sum, song) => sum + song.plays, 0),
        songs: songs.map((song) => [song.song_id, song.plays]),
      });
    }
  }
  return recount;
}

/** Lines naming each key whose value differs between two states (empty when equal). */
export function stateDifferences(
  a: ReadonlyMap<string, WindowState>,
  b: ReadonlyMap<string, WindowState>,
): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  const lines: string[] = [];
  for (const key of [...keys].sort()) {
    const left = JSON.stringify(a.get(key) ?? null);
    const right = JSON.stringify(b.get(key) ?? null);
    if (left !== right) lines.push(`${key}: ${left} vs ${right}`);
  }
  return lines;
}

/**
 * Polls until the dashboard at `url` equals BigQuery's recount of `table`
 * for every artist and window (the recount with the same `from`s); throws
 * with the differences after `timeoutMs`.
 */
export async function waitForEqualBigQuery(
  url: string,
  table: string,
  timeoutMs = 60_000,
  owned?: (artist: string) => boolean,
): Promise<Map<string, WindowState>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = await dashboardState(url);
    const differences = stateDifferences(state, await bigqueryState(table, state, owned));
    if (differences.length === 0) return state;
    if (Date.now() > until) {
      throw new Error(
        `The dashboard differs from BigQuery after ${timeoutMs / 1000} s:\n${
          differences.slice(0, 20).join("\n")
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A request as the stand-in saw it. */
export interface StandInRequest {
  method: string;
  path: string;
  body: string;
}

/**
 * A stand-in for BigQuery: refuses every request (503) while `refusing`, and
 * those `refuses` picks; forwards the rest to the emulator.
 */
export interface BigQueryStandIn {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  refusing: boolean;
  /** Refuses (503) the requests it returns true for, even while not `refusing`. */
  refuses: ((request: StandInRequest) => boolean) | undefined;
  /** Forwards a request only once the promise it returns for it settles. */
  holds: ((request: StandInRequest) => Promise<unknown> | undefined) | undefined;
  /** Requests refused so far. */
  readonly refused: number;
  /** Requests forwarded so far, with when they came and their body as text. */
  readonly forwarded: { at: number; method: string; path: string; body: string }[];
  /** Answers of forwarded requests passed back so far. */
  readonly answered: number;
  close(): Promise<void>;
}

/** Starts a {@linkcode BigQueryStandIn} on a free port, refusing. */
export function startBigQueryStandIn(target = "http://127.0.0.1:9050"): BigQueryStandIn {
  let refused = 0;
  let answered = 0;
  const forwarded: BigQueryStandIn["forwarded"] = [];
  const standIn: BigQueryStandIn = {
    url: "",
    refusing: true,
    refuses: undefined,
    holds: undefined,
    get refused() {
      return refused;
    },
    get answered() {
      return answered;
    },
    forwarded,
    close: () => server.shutdown(),
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const body = request.body === null || standIn.refusing
        ? undefined
        : await request.arrayBuffer();
      const text = body === undefined ? "" : new TextDecoder().decode(body);
      const seen = { method: request.method, path: url.pathname, body: text };
      if (standIn.refusing || standIn.refuses?.(seen) === true) {
        refused++;
        if (body === undefined) await request.body?.cancel();
        return Response.json({
          error: {
            code: 503,
            message: "BigQuery stand-in: unavailable",
            errors: [{ reason: "backendError", message: "BigQuery stand-in: unavailable" }],
          },
        }, { status: 503 });
      }
      await standIn.holds?.(seen)?.catch(() => {});
      const headers = new Headers(request.headers);
      headers.delete("host");
      forwarded.push({ at: Date.now(), ...seen });
      let answer: Response;
      try {
        answer = await fetch(`${target}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          ...(body === undefined ? {} : { body }),
        });
      } catch (error) {
        // The emulator reset the connection: pass that on as a failed request.
        return Response.json({ error: { code: 502, message: String(error) } }, { status: 502 });
      }
      // fetch() decoded the body: its length and encoding headers no longer apply.
      const answerHeaders = new Headers(answer.headers);
      answerHeaders.delete("content-encoding");
      answerHeaders.delete("content-length");
      const answerBody = await answer.arrayBuffer();
      answered++;
      return new Response(answerBody, { status: answer.status, headers: answerHeaders });
    },
  );
  standIn.url = `http://127.0.0.1:${server.addr.port}`;
  return standIn;
}

type Names = DashboardNames;

/** Runs the consumer until the group has no lag (everything stored and committed). */
export async function fillBigQuery(names: Names): Promise<void> {
  const consumed = await runScript("consume", consumerArgs(names, ["--exit-when-idle", "2"]));
  assert.equal(consumed.code, 0, consumed.stderr);
}

/**
 * Produces `count` simulated plays (random artists and songs) as fast as
 * Kafka takes them; `extra` are more producer options (a catalog, a spread).
 */
export async function produce(
  names: Names,
  count: number,
  seed: number,
  rate = 0,
  extra: readonly string[] = [],
): Promise<void> {
  const produced = await runScript("produce", [
    "--topic",
    names.topic,
    "--count",
    String(count),
    "--rate",
    String(rate),
    "--seed",
    String(seed),
    "--log-file",
    "",
    ...extra,
  ], { timeoutMs: 180_000 });
  assert.equal(produced.code, 0, produced.stderr);
}

/** The dashboard's /healthz answer. */
export async function health(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return await getJson(url, "/healthz");
}

/** The number at `path` in a JSON body (NaN when there is none). */
export function numberAt(body: Record<string, unknown>, path: string[]): number {
  let value: unknown = body;
  for (const key of path) {
    value = typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined;
  }
  return typeof value === "number" ? value : NaN;
}

/** Sum of all-time plays over every artist (`/api/artists`). */
export async function allTimePlays(url: string): Promise<number> {
  const artists = await allArtists(url);
  return artists.reduce((sum, artist) => sum + artist.plays, 0);
}

/** `COUNT(DISTINCT event_id)` of `table`. */
export async function distinctStored(table: string): Promise<number> {
  const [row] = await query(
    warehouseFor(table),
    `SELECT COUNT(DISTINCT event_id) AS n FROM \`livecharts-local.music.${table}\``,
  );
  return Number(row?.n ?? 0);
}
