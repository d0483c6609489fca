/**
 * The dashboard's counter alone at catalog scale: adds PLAYS plays spread
 * over the last 24 hours across SONGS songs (Zipf-like, from the producer's
 * generated catalog) to a counter, as the Kafka reader would, and prints one
 * line of JSON: the time spent counting, the peak V8 heap, the peak memory
 * outside it (the typed arrays' buffers) and the peak resident memory. `deno task bench --only catalog` runs it under the
 * dashboard's own V8 flags (its 64 MB heap); by hand:
 *
 * ```sh
 * deno run --allow-env --allow-read=/proc/self/status \
 *   --v8-flags=--max-semi-space-size=1,--max-old-space-size=64,--single-threaded-gc \
 *   bench/counter_memory.ts 100000 1000000 [windows|map] [songs per artist, 50]
 * ```
 *
 * The `windows` run then times the list endpoints through the dashboard's
 * handler at that size (`/api/overview`, `/api/artists` paged and searched),
 * each request ordering its list afresh (the worst case: the dashboard
 * orders a list at most once a second), and once from the ordered list.
 *
 * `windows` (the default) is the dashboard's counter (`createPlayCounter`:
 * every window's buckets, the all-time totals, the songs' names); `map` is
 * the reference: the same plays into one all-time `Map` per song, the least
 * a counter can hold. Plays are generated in chunks of 10,000 beforehand, so
 * only counting is timed. A run that does not fit dies with V8's "Reached
 * heap limit".
 *
 * @module
 */

import { generateCatalog } from "../shared/produce/generated_catalog.ts";
import { createSimulator } from "../shared/produce/simulator.ts";
import type { SongCompleted } from "../shared/event.ts";
import { createDashboardHandler } from "../shared/live/http/server.ts";
import { createPlayCounter, type PlayCounter } from "../shared/live/counting/windows.ts";
import { summarize } from "./stats.ts";

/** How the plays are counted. */
export type CounterKind = "windows" | "map";

/** What one run prints. */
export interface CounterRun {
  counter: CounterKind;
  songs_in_catalog: number;
  plays: number;
  songs_played: number;
  /** Time spent in the counter, generation of the plays left out. */
  count_s: number;
  plays_per_s: number;
  peak_heap_mb: number;
  /** Largest memory outside V8's heap (`external`: typed arrays' buffers). */
  peak_external_mb: number;
  /** The kernel's high-water mark of this process (`VmHWM`). */
  peak_rss_mb: number;
  /** Artists with plays (windows only; 0 for the map). */
  artists?: number;
  /** Answer times of the list endpoints at this size, ms (windows only). */
  latency_ms?: ListLatency;
}

/** Median answer times (ms) of the list endpoints, each request ordering its list afresh. */
export interface ListLatency {
  /** `/api/overview?window=1h` (the first 100). */
  overview_1h: number;
  /** `/api/overview?window=all`. */
  overview_all: number;
  /** `/api/artists?offset=50000` (a page deep in the list). */
  artists_page: number;
  /** `/api/artists?q=…` (a search). */
  artists_search: number;
  /** `/api/overview?window=1h` answered from the list ordered in the same tick. */
  overview_cached: number;
}

/** Times each list endpoint `samples` times through the dashboard's handler. */
export async function listLatency(
  counter: PlayCounter,
  now: number,
  samples = 15,
): Promise<ListLatency> {
  const time = async (path: string, listTickMs: number): Promise<number> => {
    // Afresh (listTickMs 1): the clock moves a tick at every reading, so no
    // request finds its list ordered in its tick (a clock that stood still
    // would keep the first request's order for every later one).
    let at = now;
    const dashboard = createDashboardHandler({
      counter: () => counter,
      status: () => ({ state: "live", problems: [] }),
      staticDir: new URL("../web/", import.meta.url),
      health: () => ({ healthy: true, body: {} }),
      listTickMs,
      now: listTickMs === 1 ? () => (at += 1) : () => now,
    });
    try {
      const times: number[] = [];
      if (listTickMs > 0) {
        await (await dashboard.handler(new Request(`http://127.0.0.1${path}`))).text();
      }
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        const response = await dashboard.handler(new Request(`http://127.0.0.1${path}`));
        await response.text();
        if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
        times.push(performance.now() - started);
      }
      return Math.round(summarize(times).median * 10) / 10;
    } finally {
      dashboard.close();
    }
  };
  return {
    overview_1h: await time("/api/overview?window=1h", 1),
    overview_all: await time("/api/overview?window=all", 1),
    artists_page: await time("/api/artists?offset=50000&limit=100", 1),
    artists_search: await time("/api/artists?q=allen&limit=100", 1),
    overview_cached: await time("/api/overview?window=1h", 60_000),
  };
}

const CHUNK = 10_000;
const SONGS_PER_ARTIST = 50;

function megabytes(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}

async function peakRssBytes(fallback: number): Promise<number> {
  try {
    const status = await Deno.readTextFile("/proc/self/status");
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? fallback : Number(kb) * 1024;
  } catch {
    return fallback; // not Linux, or not granted: the largest RSS sampled
  }
}

/** Counts `plays` plays over a catalog of `songs` songs with `kind`. */
export async function runCounter(
  songs: number,
  plays: number,
  kind: CounterKind,
  songsPerArtist = SONGS_PER_ARTIST,
): Promise<CounterRun> {
  const now = Date.now();
  const catalog = generateCatalog({
    artists: Math.ceil(songs / songsPerArtist),
    songsPerArtist,
  });
  let id = 0;
  const next = createSimulator({
    catalog,
    seed: 1,
    now: () => new Date(now),
    spreadMs: 86_400_000,
    newId: () => `00000000-0000-4000-8000-${(id++).toString(16).padStart(12, "0")}`,
  });
  const counter = kind === "windows" ? createPlayCounter({ now, dedupHorizonMs: 1 }) : undefined;
  const totals = new Map<string, number>();
  const count: (chunk: readonly SongCompleted[]) => void = counter !== undefined
    ? (chunk) => {
      for (const play of chunk) counter.add(play, Date.parse(play.timestamp));
      counter.advance(now);
    }
    : (chunk) => {
      for (const play of chunk) {
        Date.parse(play.timestamp);
        const key = `${play.artist}\u0000${play.song_id}`;
        totals.set(key, (totals.get(key) ?? 0) + 1);
      }
    };
  let countMs = 0;
  let peakHeap = 0;
  let peakExternal = 0;
  let peakRss = 0;
  for (let done = 0; done < plays; done += CHUNK) {
    const chunk: SongCompleted[] = [];
    for (let i = done; i < Math.min(plays, done + CHUNK); i++) chunk.push(next());
    const started = performance.now();
    count(chunk);
    countMs += performance.now() - started;
    const memory = Deno.memoryUsage();
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    peakExternal = Math.max(peakExternal, memory.external);
    peakRss = Math.max(peakRss, memory.rss);
  }
  return {
    counter: kind,
    songs_in_catalog: songs,
    plays,
    songs_played: counter?.stats.songs ?? totals.size,
    count_s: Math.round(countMs) / 1000,
    plays_per_s: Math.round(plays / (countMs / 1000)),
    peak_heap_mb: megabytes(peakHeap),
    peak_external_mb: megabytes(peakExternal),
    peak_rss_mb: megabytes(await peakRssBytes(peakRss)),
    ...(counter === undefined ? {} : {
      artists: counter.stats.allTimeArtists,
      latency_ms: await listLatency(counter, now),
    }),
  };
}

if (import.meta.main) {
  const [songs, plays, kind, perArtist] = [
    Number(Deno.args[0] ?? 100_000),
    Number(Deno.args[1] ?? 1_000_000),
    Deno.args[2] ?? "windows",
    Number(Deno.args[3] ?? SONGS_PER_ARTIST),
  ];
  if (kind !== "windows" && kind !== "map") {
    throw new Error(
      `Cannot count: the counter must be windows or map, got ${JSON.stringify(kind)}`,
    );
  }
  console.log(JSON.stringify(await runCounter(songs, plays, kind, perArtist)));
}
