/**
 * The producer's command-line options: how many plays, how fast, of which
 * artist, from which seed, and how many per Kafka request.
 *
 * @module
 */

import { decimal, integer, type Option } from "../cli/mod.ts";
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
  batchSize: {
    flag: "batch-size",
    arg: "N",
    help: "Most events per Kafka request",
    fallback: 500,
    parse: integer(1, 100_000),
  },
} satisfies Record<string, Option<unknown>>;
