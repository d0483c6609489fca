/**
 * The option table of `dlq.ts` (`deno task dlq`).
 *
 * @module
 */

import { dlqToolOptions } from "../dlq/options.ts";
import { groupOptions, kafkaOptions } from "../kafka/options.ts";

/** The dead-letter tool's options. */
export const dlqOptions = { ...kafkaOptions, dlqTopic: groupOptions.dlqTopic, ...dlqToolOptions };
