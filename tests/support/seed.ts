/**
 * Seeds for tests that draw random faults or timings: a failure can be
 * replayed with the seed the test printed.
 *
 * @module
 */

import { prng } from "../../shared/produce/simulator.ts";

/** The variable that replays a run: `LIVECHARTS_TEST_SEED=<seed> deno task test`. */
export const SEED_VARIABLE = "LIVECHARTS_TEST_SEED";

/**
 * A seeded random source for the test `name`: the seed comes from
 * `LIVECHARTS_TEST_SEED` when set, else it is drawn; either way it is printed.
 */
export function seededRandom(name: string): { seed: number; random: () => number } {
  const given = Deno.env.get(SEED_VARIABLE);
  const seed = given === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(given);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(
      `Cannot seed ${name} as '${SEED_VARIABLE}' must be an integer from 0 to 2^32-1, got "${given}"`,
    );
  }
  console.log(`${name}: seed ${seed} (${SEED_VARIABLE}=${seed} replays it)`);
  return { seed, random: prng(seed) };
}

/**
 * Integers below `n` drawn from a fixed `seed`: the same sequence on every
 * run, for tests that compare an implementation with a reference on many
 * generated inputs.
 */
export function fixedIntegers(seed: number): (n: number) => number {
  const draw = prng(seed);
  return (n) => Math.floor(draw() * n);
}
