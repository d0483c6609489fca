/**
 * The producer's command-line options: how many plays, how fast, of which
 * artist and which catalog, from which seed, over which past period, and how
 * many per Kafka request.
 *
 * @module
 */

import { decimal, integer, type Option, parseDuration } from "../cli/mod.ts";
import { artistSlug } from "../event.ts";

/**
 * What a message's key is made of, so what lands in one partition: `song`
 * (`artist/song_id`: one song's plays in one partition, an artist spread
 * over partitions) or `artist` (every play of an artist in one partition:
 * what dashboards sharded by partition need, see the dashboard's
 * `--only-partitions`).
 */
export type KeyBy = "song" | "artist";

/**
 * Parses `--key-by`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyBy } from "./options.ts";
 * assert.equal(keyBy("artist"), "artist");
 * assert.throws(() => keyBy("user"), /must be song or artist, got "user"/);
 * ```
 */
export function keyBy(raw: string): KeyBy {
  if (raw === "song" || raw === "artist") return raw;
  throw new Error(`must be song or artist, got ${JSON.stringify(raw)}`);
}

/** What to simulate and how fast to send it. */
export const produceOptions = {
  count: {
    flag: "count",
    arg: "N",
    help: "Events to send; 0 runs until Ctrl-C",
    fallback: 0,
    parse: integer(),
  },
  rate: {
    flag: "rate",
    arg: "R",
    help: "Events per second; 0 is as fast as possible",
    fallback: 5,
    parse: decimal(0),
  },
  artist: {
    flag: "artist",
    arg: "SLUG",
    help: "Only this artist (default: all, Tony Allen most played)",
    fallback: undefined,
    parse: artistSlug,
  },
  seed: {
    flag: "seed",
    arg: "N",
    help: "Seed for a reproducible play sequence",
    fallback: undefined,
    parse: integer(0, 2 ** 32 - 1),
  },
  catalogArtists: {
    flag: "catalog-artists",
    arg: "N",
    help: "Play from a generated catalog of N artists (Tony Allen first, Zipf-like popularity) " +
      "instead of the demo's 25",
    fallback: undefined,
    parse: (raw: string): number | undefined =>
      raw === "" ? undefined : integer(1, 10_000_000)(raw),
  },
  catalogSongsPerArtist: {
    flag: "catalog-songs-per-artist",
    arg: "M",
    help: "Songs of each artist of --catalog-artists",
    fallback: 50,
    parse: integer(1, 100_000),
  },
  spread: {
    flag: "spread",
    arg: "DURATION",
    help: "Spread event times uniformly over this period before now (e.g. 24h, to build " +
      "history quickly); 0: all at now",
    fallback: 0,
    parse: parseDuration,
  },
  keyBy: {
    flag: "key-by",
    arg: "KEY",
    help: "Message key: song (artist/song_id: one song's plays in one partition) or artist " +
      "(an artist's plays in one partition: what dashboards sharded with --only-partitions need)",
    fallback: "song" as KeyBy,
    parse: keyBy,
  },
  batchSize: {
    flag: "batch-size",
    arg: "N",
    help: "Most events per Kafka request",
    fallback: 4_000,
    parse: integer(1, 100_000),
  },
} satisfies Record<string, Option<unknown>>;
