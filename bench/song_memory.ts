/**
 * What the dashboard's counter retains per song: SONGS distinct songs (10 an
 * artist), one play each, either all inside the windows (`windows`) or all
 * older than a day (`old`: all time only), then a full collection, and one
 * line of JSON with the V8 heap and the buffers outside it that the counter
 * holds, in all and per song. Run it under the dashboard's flags:
 *
 * ```sh
 * deno run --allow-env --allow-read \
 *   --v8-flags=--max-semi-space-size=1,--max-old-space-size=64,--single-threaded-gc,--expose-gc \
 *   bench/song_memory.ts 1000000 windows
 * ```
 *
 * The dedup ids of the plays are part of it (a dashboard holds them for its
 * dedup horizon only, 10 minutes by default).
 *
 * @module
 */

import { createPlayCounter } from "../shared/live/counting/windows.ts";

const DAY_MS = 86_400_000;
const WORDS = [
  "zombie",
  "lady",
  "secret-agent",
  "kindness",
  "soldiers",
  "water",
  "sorrow",
  "tears",
];

function collected(): { heap: number; external: number; rss: number } {
  const gc = Reflect.get(globalThis, "gc");
  if (typeof gc !== "function") {
    throw new Error("Cannot measure retained memory: run with --v8-flags=--expose-gc");
  }
  gc();
  gc();
  const usage = Deno.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external, rss: usage.rss };
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;

if (import.meta.main) {
  const songs = Number(Deno.args[0] ?? 1_000_000);
  const mode = Deno.args[1] ?? "windows";
  if (!Number.isSafeInteger(songs) || songs < 1 || (mode !== "windows" && mode !== "old")) {
    throw new Error(
      `Cannot measure: expected SONGS (a positive integer) and windows|old, got ${
        JSON.stringify(Deno.args)
      }`,
    );
  }
  const now = Date.now();
  const before = collected();
  const counter = createPlayCounter({ now, dedupHorizonMs: 1 });
  for (let song = 0; song < songs; song++) {
    const age = mode === "old" ? DAY_MS + 6 * 3_600_000 : (song * 7_919) % (DAY_MS - 600_000);
    counter.add({
      event_id: crypto.randomUUID(),
      user_id: 1,
      artist: `artist-${Math.floor(song / 10)}`,
      song_id: (song % 10) + 1,
      song_name: `${WORDS[song % 8]} ${WORDS[(song >> 3) % 8]}`,
      event_type: "song_completed",
      timestamp: new Date(now - age).toISOString(),
    }, mode === "old" ? now : undefined);
    if (song % 100_000 === 0) counter.advance(now);
  }
  counter.advance(now);
  const after = collected();
  console.log(JSON.stringify({
    songs,
    mode,
    held_in_windows: counter.stats.songs,
    heap_mb: mb(after.heap - before.heap),
    outside_heap_mb: mb(after.external - before.external),
    dedup_mb: mb(counter.stats.dedupBytes),
    rss_mb: mb(after.rss),
    heap_bytes_per_song: Math.round((after.heap - before.heap) / songs),
    outside_bytes_per_song: Math.round((after.external - before.external) / songs),
  }));
}
