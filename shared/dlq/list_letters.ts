/**
 * Listing a dead-letter topic: reads it to its current end with a throwaway
 * group (nothing committed) and summarizes the letters.
 *
 * @module
 */

import { createAdmin, type KafkaClient, readToEnd } from "../kafka/mod.ts";
import { createDlqSummary, type DlqReport } from "./report.ts";

/** Options of {@linkcode listDeadLetters}. */
export interface ListOptions {
  /** The dead-letter topic; a missing one lists as empty. */
  topic: string;
  /** Examples kept per group (default 3). */
  limit?: number;
}

/** The letters of `options.topic`, grouped by kind and reason. */
export async function listDeadLetters(
  kafka: KafkaClient,
  options: ListOptions,
): Promise<DlqReport> {
  const summary = createDlqSummary(options);
  const admin = createAdmin(kafka);
  let exists: boolean;
  try {
    exists = (await admin.listTopics()).includes(options.topic);
  } finally {
    await admin.close();
  }
  if (exists) {
    await readToEnd(kafka, {
      topic: options.topic,
      onBatch: (records) => {
        for (const record of records) summary.add(record);
        return Promise.resolve();
      },
    });
  }
  return summary.report();
}
