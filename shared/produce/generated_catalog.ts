/**
 * A streaming service's catalog for the simulator: Tony Allen first (his
 * ten songs head his list), then as many generated artists as asked, each
 * with the same number of songs. Names come from Faker's English word lists
 * (people, adjectives and nouns for artists, song titles for songs), drawn
 * by a fixed-seed generator, so every producer that asks for the same size
 * gets the same slugs and song names: only `--seed` changes who plays what.
 *
 * At 100,000 artists and 50 songs each (5 million songs) only the artist
 * slugs are held (a few MB); a song's name is computed when it is played.
 *
 * @module
 */

import { en, Faker } from "@faker-js/faker";
import { type Artist, slugify, type Song, TONY_ALLEN_SONGS } from "./catalog.ts";
import { prng } from "./random.ts";

/** A catalog the simulator draws from: artists by rank, songs by rank within each. */
export interface Catalog {
  /** Number of artists. */
  readonly size: number;
  /** Slug of the artist of rank `artist` (0: the most played). */
  slug(artist: number): string;
  /** Songs of that artist. */
  songCount(artist: number): number;
  /** Its song of rank `index` (0-based; `song_id` is `index + 1`). */
  song(artist: number, index: number): Song;
}

/**
 * The demo catalog (a list of artists) as a {@linkcode Catalog}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildCatalog } from "./catalog.ts";
 * import { listCatalog } from "./generated_catalog.ts";
 * const catalog = listCatalog(buildCatalog(2));
 * assert.equal(catalog.size, 3);
 * assert.deepEqual(catalog.song(0, 0), { song_id: 1, song_name: "zombie" });
 * ```
 */
export function listCatalog(artists: readonly Artist[]): Catalog {
  return {
    size: artists.length,
    slug: (artist) => artists[artist]!.slug,
    songCount: (artist) => artists[artist]!.songs.length,
    song: (artist, index) => artists[artist]!.songs[index]!,
  };
}

/** Size of a generated catalog. */
export interface CatalogSize {
  /** Artists, Tony Allen included (at least 1). */
  artists: number;
  /** Songs of each artist (at least 1; Tony Allen's first ten are his own). */
  songsPerArtist: number;
}

interface Words {
  firstNames: readonly string[];
  lastNames: readonly string[];
  adjectives: readonly string[];
  nouns: readonly string[];
  songs: readonly string[];
}

function list(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string")) {
    throw new Error(`Cannot build the catalog: Faker's English ${what} list is missing`);
  }
  return value;
}

function fakerWords(): Words {
  const d = new Faker({ locale: [en] }).rawDefinitions;
  return {
    firstNames: list(d.person?.first_name?.generic, "first name"),
    lastNames: list(d.person?.last_name?.generic, "last name"),
    adjectives: list(d.word?.adjective, "adjective"),
    nouns: list(d.word?.noun, "noun"),
    songs: list(d.music?.song_name, "song name").map(slugify),
  };
}

/** A 32-bit mix of two integers (murmur3's finalizer), for per-song choices without state. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be59b, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Generates a catalog of `size.artists` artists with `size.songsPerArtist`
 * songs each, Tony Allen first. The same size gives the same catalog.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateCatalog } from "./generated_catalog.ts";
 * const catalog = generateCatalog({ artists: 1_000, songsPerArtist: 50 });
 * assert.equal(catalog.slug(0), "tony-allen");
 * assert.deepEqual(catalog.song(0, 2), { song_id: 3, song_name: "secret-agent" });
 * assert.equal(catalog.songCount(999), 50);
 * assert.equal(catalog.slug(999), generateCatalog({ artists: 1_000, songsPerArtist: 5 }).slug(999));
 * ```
 */
export function generateCatalog(size: CatalogSize): Catalog {
  if (!Number.isSafeInteger(size.artists) || size.artists < 1) {
    throw new RangeError(
      `Cannot build the catalog: 'artists' must be a positive integer, got ${size.artists}`,
    );
  }
  if (!Number.isSafeInteger(size.songsPerArtist) || size.songsPerArtist < 1) {
    throw new RangeError(
      `Cannot build the catalog: 'songsPerArtist' must be a positive integer, got ${size.songsPerArtist}`,
    );
  }
  const words = fakerWords();
  const random = prng(2022);
  const choose = (from: readonly string[]) => from[Math.floor(random() * from.length)]!;
  const slugs = ["tony-allen"];
  const taken = new Set(slugs);
  while (slugs.length < size.artists) {
    const kind = random();
    const name = kind < 0.6
      ? `${choose(words.firstNames)} ${choose(words.lastNames)}`
      : kind < 0.85
      ? `${choose(words.adjectives)} ${choose(words.nouns)}`
      : `the ${choose(words.nouns)}s`;
    let slug = slugify(name);
    for (let n = 2; taken.has(slug); n++) slug = `${slugify(name)}-${n}`;
    taken.add(slug);
    slugs.push(slug);
  }
  return {
    size: size.artists,
    slug: (artist) => slugs[artist]!,
    songCount: () => size.songsPerArtist,
    song(artist, index) {
      const song_id = index + 1;
      if (artist === 0 && index < TONY_ALLEN_SONGS.length) {
        return { song_id, song_name: TONY_ALLEN_SONGS[index]! };
      }
      return { song_id, song_name: words.songs[mix(artist, index) % words.songs.length]! };
    },
  };
}
