/**
 * The dashboard's counter alone at catalog scale: adds PLAYS plays spread
 * over the last 24 hours across SONGS songs (Zipf-like, from the producer's
 * generated catalog) to a counter, as the Kafka reader would, and prints the
 * heap and resident memory at the end as JSON. Run it under the dashboard's
 * own V8 flags to see whether it fits:
 *
 * ```sh
 * deno run --allow-env --v8-flags=--max-semi-space-size=1,--max-old-space-size=64,--single-threaded-gc \
 *   bench/counter_memory.ts 100000 1000000
 * ```
 *
 * A run that does not fit dies with V8's "Reached heap limit".
 *
 * @module
 */

import { generateCatalog } from "../shared/produce/generated_catalog.ts";
import { createSimulator } from "../shared/produce/simulator.ts";
import { createPlayCounter } from "../shared/live/windows.ts";

const songs = Number(Deno.args[0] ?? 100_000);
const plays = Number(Deno.args[1] ?? 1_000_000);
const perArtist = 50;
const now = Date.now();
const catalog = generateCatalog({
  artists: Math.ceil(songs / perArtist),
  songsPerArtist: perArtist,
});
let id = 0;
const next = createSimulator({
  catalog,
  seed: 1,
  now: () => new Date(now),
  spreadMs: 86_400_000,
  newId: () => `00000000-0000-4000-8000-${(id++).toString(16).padStart(12, "0")}`,
});
const counter = createPlayCounter({ now, dedupHorizonMs: 1 });
let peakRss = 0;
for (let i = 0; i < plays; i++) {
  const event = next();
  counter.add(event, Date.parse(event.timestamp));
  if (i % 50_000 === 0) {
    counter.advance(now);
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }
}
counter.advance(now);
const memory = Deno.memoryUsage();
peakRss = Math.max(peakRss, memory.rss);
const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
console.log(JSON.stringify({
  songs_in_catalog: songs,
  plays,
  songs_played: counter.stats.songs,
  buckets: counter.stats.buckets,
  heap_used_mb: mb(memory.heapUsed),
  rss_mb: mb(memory.rss),
  peak_rss_mb: mb(peakRss),
}));
