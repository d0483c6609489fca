import assert from "node:assert/strict";
import { parseEvent, SLUG } from "../../shared/event.ts";
import { TONY_ALLEN_SONGS } from "../../shared/produce/catalog.ts";
import { generateCatalog } from "../../shared/produce/generated_catalog.ts";
import { createSimulator } from "../../shared/produce/simulator.ts";

const NOW = new Date("2026-12-05T09:00:00.000Z");

Deno.test("generateCatalog() is the same for the same size, and its slugs are unique", () => {
  const a = generateCatalog({ artists: 20_000, songsPerArtist: 50 });
  const b = generateCatalog({ artists: 20_000, songsPerArtist: 50 });
  const slugs = Array.from({ length: a.size }, (_, i) => a.slug(i));
  assert.deepEqual(slugs, Array.from({ length: b.size }, (_, i) => b.slug(i)));
  assert.equal(new Set(slugs).size, 20_000);
  for (const slug of slugs) assert.match(slug, SLUG);
  // A smaller catalog is a prefix of a larger one.
  const small = generateCatalog({ artists: 100, songsPerArtist: 50 });
  assert.deepEqual(Array.from({ length: 100 }, (_, i) => small.slug(i)), slugs.slice(0, 100));
  assert.deepEqual(small.song(57, 12), a.song(57, 12));
});

Deno.test("generateCatalog() keeps Tony Allen's ten songs at the head", () => {
  const catalog = generateCatalog({ artists: 10, songsPerArtist: 50 });
  assert.equal(catalog.slug(0), "tony-allen");
  assert.deepEqual(
    Array.from({ length: 10 }, (_, i) => catalog.song(0, i).song_name),
    [...TONY_ALLEN_SONGS],
  );
  assert.equal(catalog.songCount(0), 50);
  assert.equal(catalog.song(0, 49).song_id, 50);
  assert.throws(
    () => generateCatalog({ artists: 0, songsPerArtist: 1 }),
    /'artists' must be a positive integer, got 0/,
  );
});

Deno.test("createSimulator() on a generated catalog: valid events, the same for the same seed", () => {
  const catalog = generateCatalog({ artists: 1_000, songsPerArtist: 20 });
  let id = 0;
  const run = (seed: number) => {
    const next = createSimulator({
      catalog,
      seed,
      now: () => NOW,
      newId: () => `00000000-0000-4000-8000-${String(id++ % 1e12).padStart(12, "0")}`,
    });
    return Array.from({ length: 2_000 }, () => next());
  };
  const first = run(5);
  const key = (e: { artist: string; song_id: number; song_name: string; user_id: number }) =>
    `${e.artist}/${e.song_id}/${e.song_name}/${e.user_id}`;
  assert.deepEqual(run(5).map(key), first.map(key));
  assert.notDeepEqual(run(6).map(key), first.map(key));
  for (const event of first) assert.deepEqual(parseEvent(event), event);
});

Deno.test("createSimulator() on a generated catalog: Zipf-like artists and songs, a long tail", () => {
  const catalog = generateCatalog({ artists: 10_000, songsPerArtist: 50 });
  const next = createSimulator({ catalog, seed: 1, now: () => NOW, newId: () => "x" });
  const artists = new Map<string, number>();
  const songs = new Map<string, number>();
  const ranks = new Array<number>(50).fill(0);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const event = next();
    artists.set(event.artist, (artists.get(event.artist) ?? 0) + 1);
    songs.set(
      `${event.artist}/${event.song_id}`,
      (songs.get(`${event.artist}/${event.song_id}`) ?? 0) + 1,
    );
    ranks[event.song_id - 1]!++;
  }
  const byArtist = Array.from(
    { length: catalog.size },
    (_, i) => artists.get(catalog.slug(i)) ?? 0,
  );
  // Tony Allen heads the chart; rank k gets about 1/k^0.9 of rank 1.
  assert.equal(Math.max(...byArtist), byArtist[0]);
  const ratio = (k: number) => byArtist[0]! / Math.max(1, byArtist[k - 1]!);
  assert.ok(Math.abs(ratio(10) - 10 ** 0.9) / 10 ** 0.9 < 0.25, `rank 10: ${ratio(10)}`);
  // A long tail: most artists are played, none dominates.
  assert.ok(artists.size > 5_000, `artists played: ${artists.size}`);
  assert.ok(byArtist[0]! / n < 0.1, `head share ${byArtist[0]! / n}`);
  // Within artists, song rank 1 is played most and rank 50 least, about 1/50^1.07.
  assert.ok(ranks[0]! > ranks[1]! && ranks[1]! > ranks[9]! && ranks[9]! > ranks[49]!);
  assert.ok(Math.abs(ranks[0]! / ranks[49]! - 50 ** 1.07) / 50 ** 1.07 < 0.25);
  assert.ok(songs.size > 50_000, `songs played: ${songs.size}`);
});

Deno.test("createSimulator() with spreadMs spreads event times over the period before now", () => {
  const next = createSimulator({ seed: 2, now: () => NOW, spreadMs: 86_400_000 });
  const ages = Array.from({ length: 10_000 }, () => NOW.getTime() - Date.parse(next().timestamp));
  assert.ok(ages.every((age) => age >= 0 && age < 86_400_000));
  const hours = new Array<number>(24).fill(0);
  for (const age of ages) hours[Math.floor(age / 3_600_000)]!++;
  // Uniform: every hour gets about 1/24 of the plays.
  for (const count of hours) {
    assert.ok(Math.abs(count - 10_000 / 24) < 10_000 / 24 * 0.25, `${count}`);
  }
});
