/**
 * The producer's command-line options: how many plays, how fast, of which
 * artist and which catalog, from which seed, over which past period, and how
 * many per Kafka request.
 *
 * @module
 */

import { decimal, integer, type Option, parseDuration } from "../cli/mod.ts";
import { artistSlug } from "../event.ts";

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
  batchSize: {
    flag: "batch-size",
    arg: "N",
    help: "Most events per Kafka request",
    fallback: 4_000,
    parse: integer(1, 100_000),
  },
} satisfies Record<string, Option<unknown>>;
