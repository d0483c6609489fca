/**
 * The option table of `consumer.ts` (`deno task consume`).
 *
 * @module
 */

import { bigqueryOptions, storageApiOptions } from "../bigquery/options.ts";
import { eventTimeOptions } from "../event_options.ts";
import { groupOptions, kafkaOptions, partitionsOption } from "../kafka/options.ts";
import {
  healthOptions,
  logFileOption,
  logLevelOption,
  metricsServerOptions,
} from "../ops/options.ts";
import { batchOptions, exitWhenIdleOption, schemaOptions, writeOptions } from "../sink/options.ts";

/** The consumer's options. */
export const consumerOptions = {
  ...kafkaOptions,
  ...groupOptions,
  ...bigqueryOptions,
  ...storageApiOptions,
  ...writeOptions,
  ...schemaOptions,
  ...batchOptions,
  ...eventTimeOptions,
  partitions: partitionsOption,
  exitWhenIdle: exitWhenIdleOption,
  ...metricsServerOptions,
  ...healthOptions,
  logFile: logFileOption("Also append logs to this file"),
  logLevel: logLevelOption,
};
