/**
 * `deno task dlq`: what is in the dead-letter topic, grouped by reason; with
 * `--replay`, re-publishes the letters to the topic they came from.
 *
 * Flow: dead-letter topic → summary → report, or dead-letter topic →
 * re-published messages → commit of the replay group.
 *
 * @module
 */

import { errorMessage } from "./shared/errors.ts";
import { parseArgsOrExit } from "./shared/cli/mod.ts";
import {
  formatReplayReport,
  formatReport,
  listDeadLetters,
  replayDeadLetters,
} from "./shared/dlq/mod.ts";
import { createKafka, installKafkaPatches } from "./shared/kafka/mod.ts";
import { logFatal, logger, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import { dlqOptions } from "./shared/tables/mod.ts";

/** The options of this script (`shared/tables/`, where the launcher reads them). */
export const options = dlqOptions;

const SUMMARY =
  `Lists the dead-letter topic grouped by error kind and reason; --replay re-publishes letters.

Replay sends each letter's original key, bytes and headers (without error.* and
source.*, plus replayed.from) to the configured --topic (or --to TOPIC); a letter whose
source.topic header names another topic stops the replay. Progress is kept
by the consumer group <dlq>.replay (<dlq>.replay.<kind> with --kind), committed
only after Kafka acknowledged the messages, so running it twice re-publishes nothing.
Replay messages that never landed in BigQuery (fixed since, or a transient cause):
a replayed tutorial-format event (no event_id) gets a new derived event_id from its
new offset, so it would count twice if its first copy had been stored.`;

const log = logger("dlq");

async function main(): Promise<number> {
  installKafkaPatches();
  const config = parseArgsOrExit({
    usage: "deno task dlq [--replay [--to TOPIC] [--kind KIND] [--dry-run]] [options]",
    summary: SUMMARY,
  }, options);
  await setupLogging({ level: config.logLevel });
  const kafka = createKafka({ ...config, clientId: "livecharts-dlq" });

  if (!config.replay) {
    if (config.to !== undefined || config.kind !== undefined || config.dryRun) {
      log.warn("--to, --kind and --dry-run only apply with --replay");
    }
    const report = await listDeadLetters(kafka, { topic: config.dlqTopic, limit: config.limit });
    console.log(config.json ? JSON.stringify(report, null, 2) : formatReport(report).trimEnd());
    await stopLogging();
    return 0;
  }

  const report = await replayDeadLetters(kafka, config);
  console.log(
    config.json ? JSON.stringify(report, null, 2) : formatReplayReport(report).trimEnd(),
  );
  await stopLogging();
  return report.error === null ? 0 : 1;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    await logFatal(log, "dlq failed: {error}", { error: errorMessage(error) });
    Deno.exit(1);
  });
}
