/**
 * The simulated catalog: Tony Allen's ten songs plus generated artists, each
 * with a Zipf-like popularity so charts have a clear head and a long tail.
 * The catalog is the same on every run (its own fixed seed), so song ids and
 * names stay stable across producers; `--seed` only changes who plays what.
 *
 * @module
 */

import { en, Faker } from "@faker-js/faker";

/** A song in the catalog. */
export interface Song {
  song_id: number;
  song_name: string;
}

/** An artist and their songs, most popular first. */
export interface Artist {
  slug: string;
  songs: Song[];
}

/** Tony Allen's songs from the original tutorial, by id. */
export const TONY_ALLEN_SONGS: readonly string[] = [
  "zombie",
  "lady",
  "secret-agent",
  "kindness",
  "soldiers",
  "asiko",
  "the-same-blood",
  "upside-down",
  "african-man",
  "vip",
];

/** Turns a name into a slug (`"Fela Kuti!"` → `"fela-kuti"`). */
export function slugify(name: string): string {
  return name.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "untitled";
}

/**
 * Builds the catalog: Tony Allen first, then `extraArtists` generated ones
 * with 6 to 14 songs each. Deterministic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildCatalog } from "./catalog.ts";
 * const catalog = buildCatalog(3);
 * assert.equal(catalog[0]!.slug, "tony-allen");
 * assert.equal(catalog.length, 4);
 * ```
 */
export function buildCatalog(extraArtists = 24): Artist[] {
  const faker = new Faker({ locale: [en] });
  faker.seed(2022);
  const artists: Artist[] = [{
    slug: "tony-allen",
    songs: TONY_ALLEN_SONGS.map((song_name, i) => ({ song_id: i + 1, song_name })),
  }];
  const taken = new Set(["tony-allen"]);
  while (artists.length < extraArtists + 1) {
    const slug = slugify(
      faker.helpers.arrayElement([
        () => `${faker.person.firstName()} ${faker.person.lastName()}`,
        () => `${faker.word.adjective()} ${faker.word.noun()}`,
        () => `the ${faker.word.noun()}s`,
      ])(),
    );
    if (taken.has(slug)) continue;
    taken.add(slug);
    const count = faker.number.int({ min: 6, max: 14 });
    const names = new Set<string>();
    while (names.size < count) names.add(slugify(faker.music.songName()));
    artists.push({
      slug,
      songs: [...names].map((song_name, i) => ({ song_id: i + 1, song_name })),
    });
  }
  return artists;
}

/**
 * Cumulative Zipf weights (`1/k^s` for k = 1..n), normalized to end at 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipfCumulative } from "./catalog.ts";
 * const [first, last] = zipfCumulative(2, 1); // weights 1 and 1/2
 * assert.ok(Math.abs(first! - 2 / 3) < 1e-12);
 * assert.equal(last, 1);
 * ```
 */
export function zipfCumulative(n: number, exponent = 1.07): number[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot build a Zipf table: 'n' must be a positive integer, got ${n}`);
  }
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** exponent);
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((weight, k) => (k === n - 1 ? 1 : (sum += weight) / total));
}

/** Index picked by `u` in [0, 1) from a cumulative table (binary search). */
export function pick(cumulative: readonly number[], u: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (u < cumulative[mid]!) high = mid;
    else low = mid + 1;
  }
  return low;
}
