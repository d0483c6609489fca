/**
 * The option table of `producer.ts` (`deno task produce`).
 *
 * @module
 */

import { kafkaOptions, partitionsOption } from "../kafka/options.ts";
import { logFileOption, logLevelOption } from "../ops/options.ts";
import { produceOptions } from "../produce/options.ts";

/** The producer's options. */
export const producerOptions = {
  ...kafkaOptions,
  ...produceOptions,
  partitions: partitionsOption,
  logFile: logFileOption("Delivery log", "producer.log"),
  logLevel: logLevelOption,
};
