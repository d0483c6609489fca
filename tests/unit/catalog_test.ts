import assert from "node:assert/strict";
import {
  buildCatalog,
  pick,
  slugify,
  TONY_ALLEN_SONGS,
  zipfCumulative,
} from "../../shared/produce/catalog.ts";
import { parseEvent } from "../../shared/event.ts";
import { SLUG } from "../../shared/event.ts";

Deno.test("buildCatalog() is the same on every call", () => {
  assert.deepEqual(buildCatalog(), buildCatalog());
  // A smaller catalog is a prefix of the larger one.
  assert.deepEqual(buildCatalog(5), buildCatalog().slice(0, 6));
});

Deno.test("buildCatalog() starts with Tony Allen's ten songs, ids 1 to 10", () => {
  const [tony] = buildCatalog(0);
  assert.equal(tony!.slug, "tony-allen");
  assert.deepEqual(tony!.songs.map((song) => song.song_id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(tony!.songs.map((song) => song.song_name), [...TONY_ALLEN_SONGS]);
  assert.equal(tony!.songs[0]!.song_name, "zombie");
  assert.equal(tony!.songs[2]!.song_name, "secret-agent");
});

Deno.test("buildCatalog() has the requested number of artists with unique slugs", () => {
  const catalog = buildCatalog(24);
  assert.equal(catalog.length, 25);
  assert.equal(new Set(catalog.map((artist) => artist.slug)).size, 25);
  assert.equal(buildCatalog(0).length, 1);
});

Deno.test("buildCatalog() gives each artist 6 to 14 unique songs numbered from 1", () => {
  for (const artist of buildCatalog().slice(1)) {
    assert.ok(artist.songs.length >= 6 && artist.songs.length <= 14, artist.slug);
    assert.deepEqual(
      artist.songs.map((song) => song.song_id),
      Array.from({ length: artist.songs.length }, (_, i) => i + 1),
    );
    assert.equal(new Set(artist.songs.map((song) => song.song_name)).size, artist.songs.length);
  }
});

Deno.test("buildCatalog() entries make valid events", () => {
  for (const artist of buildCatalog()) {
    assert.match(artist.slug, SLUG);
    for (const song of artist.songs) {
      assert.match(song.song_name, SLUG);
      const event = parseEvent({
        event_id: "0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a",
        user_id: 1,
        artist: artist.slug,
        song_id: song.song_id,
        song_name: song.song_name,
        event_type: "song_completed",
        timestamp: "2026-11-24T19:00:00Z",
      });
      assert.equal(event.artist, artist.slug);
    }
  }
});

Deno.test("slugify() makes lower-case ASCII slugs", () => {
  assert.equal(slugify("Fela Kuti!"), "fela-kuti");
  assert.equal(slugify("  Béla  Fleck & the Flecktones "), "bela-fleck-the-flecktones");
  assert.equal(slugify("Ọmọ"), "omo");
  assert.equal(slugify("!!!"), "untitled");
  assert.equal(slugify(""), "untitled");
});

Deno.test("zipfCumulative() is increasing and ends exactly at 1", () => {
  for (const [n, exponent] of [[1, 1.07], [2, 1], [10, 1.07], [25, 0.9], [10_000, 0.6]] as const) {
    const table = zipfCumulative(n, exponent);
    assert.equal(table.length, n);
    assert.equal(table.at(-1), 1);
    for (let i = 1; i < n; i++) assert.ok(table[i]! > table[i - 1]!, `n=${n} at ${i}`);
    assert.ok(table[0]! > 0);
  }
});

Deno.test("zipfCumulative() follows 1/k^s weights", () => {
  const table = zipfCumulative(2, 1);
  assert.ok(Math.abs(table[0]! - 2 / 3) < 1e-12);
  const three = zipfCumulative(3, 2); // weights 1, 1/4, 1/9
  const total = 1 + 1 / 4 + 1 / 9;
  assert.ok(Math.abs(three[0]! - 1 / total) < 1e-12);
  assert.ok(Math.abs(three[1]! - (1 + 1 / 4) / total) < 1e-12);
  // Exponent 0 is uniform.
  assert.deepEqual(zipfCumulative(4, 0), [0.25, 0.5, 0.75, 1]);
});

Deno.test("zipfCumulative() rejects a size that is not a positive integer", () => {
  for (const n of [0, -1, 2.5]) {
    assert.throws(() => zipfCumulative(n), {
      name: "RangeError",
      message: `Cannot build a Zipf table: 'n' must be a positive integer, got ${n}`,
    });
  }
});

Deno.test("pick() returns the first index whose cumulative weight exceeds u", () => {
  const table = [0.5, 0.75, 1];
  assert.equal(pick(table, 0), 0);
  assert.equal(pick(table, 0.4999), 0);
  assert.equal(pick(table, 0.5), 1);
  assert.equal(pick(table, 0.7499), 1);
  assert.equal(pick(table, 0.75), 2);
  assert.equal(pick(table, 0.9999999), 2);
  assert.equal(pick([1], 0.3), 0);
});

Deno.test("pick() agrees with a linear scan", () => {
  const table = zipfCumulative(37);
  for (let i = 0; i < 2_000; i++) {
    const u = i / 2_000;
    assert.equal(pick(table, u), table.findIndex((c) => u < c));
  }
});
