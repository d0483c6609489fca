/**
 * The option table of `dashboard.ts` (`deno task dashboard`).
 *
 * @module
 */

import { bytesBilledOptions } from "../bigquery/bytes_billed.ts";
import { bigqueryOptions } from "../bigquery/options.ts";
import { eventTimeOptions } from "../event_options.ts";
import { groupOptions, kafkaOptions, partitionsOption } from "../kafka/options.ts";
import { exposureOptions } from "../live/http/exposure.ts";
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
      "BigQuery (below) and Kafka (from there on); a partition it never committed is split at " +
      "the largest kafka_offset the table holds (with a warning), not read from its start",
  },
  ...bigqueryOptions,
  ...bytesBilledOptions,
  ...viewOptions,
  ...counting,
  ...eventTimeOptions,
  partitions: partitionsOption,
  logLevel: logLevelOption,
};
