/**
 * The producer's command-line options: how many plays, how fast, of which
 * artist, from which seed, and how many per Kafka request.
 *
 * @module
 */

import { decimal, integer, type Option, text } from "../cli/mod.ts";
import { SLUG } from "../event.ts";

/**
 * Parses an artist slug such as `tony-allen`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { artistSlug } from "./options.ts";
 * assert.equal(artistSlug("tony-allen"), "tony-allen");
 * assert.throws(() => artistSlug("Tony Allen"), /must be an artist slug like tony-allen/);
 * ```
 */
export const artistSlug: (raw: string) => string = text(SLUG, "an artist slug like tony-allen");

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
