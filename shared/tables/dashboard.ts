/**
 * The option table of `dashboard.ts` (`deno task dashboard`).
 *
 * @module
 */

import { bigqueryOptions } from "../bigquery/options.ts";
import { groupOptions, kafkaOptions, partitionsOption } from "../kafka/options.ts";
import { exposureOptions } from "../live/exposure.ts";
import { dashboardOptions as servingOptions, viewOptions } from "../live/options.ts";
import { logLevelOption } from "../ops/options.ts";

const { host, port, ...counting } = servingOptions;

/** The dashboard's options. */
export const dashboardOptions = {
  host,
  port,
  ...exposureOptions,
  ...kafkaOptions,
  group: {
    ...groupOptions.group,
    help: "Group of the BigQuery consumer: its committed offsets split the counts between " +
      "BigQuery (below) and Kafka (from there on)",
  },
  ...bigqueryOptions,
  ...viewOptions,
  ...counting,
  partitions: partitionsOption,
  logLevel: logLevelOption,
};
