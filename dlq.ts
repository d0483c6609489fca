/**
 * `deno task dlq`: what is in the dead-letter topic, grouped by reason; with
 * `--replay`, re-publishes the letters to the topic they came from.
 *
 * Listing reads the topic to its current end with a throwaway group (no
 * commits). Replaying reads as the group `<dlq>.replay` and commits past
 * each batch only after Kafka acknowledged its re-published messages, so a
 * second replay does not re-publish them.
 *
 * @module
 */

import { errorMessage, parseArgsOrExit } from "./shared/cli/mod.ts";
import { groupOptions, kafkaOptions } from "./shared/cli/mod.ts";
import { coordinates, createDlqSummary, formatReport } from "./shared/dlq/mod.ts";
import {
  emptyReplayReport,
  formatReplayReport,
  KIND,
  letterKind,
  replayGroup,
  type ReplayMessage,
  replayMessage,
  type ReplayReport,
  replayTarget,
} from "./shared/dlq/mod.ts";
import {
  committedOffsetsOf,
  createKafka,
  createProducer,
  publish,
  readToEnd,
} from "./shared/kafka/mod.ts";
import { logger, logLevel, setupLogging, stopLogging } from "./shared/ops/mod.ts";
import { boolean, integer, text, type Values } from "./shared/cli/mod.ts";

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

const options = {
  ...kafkaOptions,
  dlqTopic: groupOptions.dlqTopic,
  replay: {
    flag: "replay",
    help: "Re-publish the letters not replayed yet to their source topic",
    fallback: false,
    parse: boolean,
  },
  to: {
    flag: "to",
    arg: "TOPIC",
    help: "With --replay: publish to this topic instead of each letter's source.topic",
    fallback: undefined,
    parse: text(TOPIC, "a Kafka topic name ([A-Za-z0-9._-], up to 249)"),
  },
  kind: {
    flag: "kind",
    arg: "KIND",
    help: "With --replay: only letters of this error.kind (e.g. rejected-by-bigquery)",
    fallback: undefined,
    parse: text(KIND, "an error kind like invalid-json"),
  },
  dryRun: {
    flag: "dry-run",
    help: "With --replay: report what would be re-published; publish and record nothing",
    fallback: false,
    parse: boolean,
  },
  json: {
    flag: "json",
    help: "Print the report as JSON (for scripts)",
    fallback: false,
    parse: boolean,
  },
  limit: {
    flag: "limit",
    arg: "N",
    help: "Examples shown per group",
    fallback: 3,
    parse: integer(0, 1_000),
  },
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    arg: "LEVEL",
    help: "debug, info, warning or error",
    fallback: "warning" as const,
    parse: logLevel,
  },
};

type Config = Values<typeof options>;
type Kafka = ReturnType<typeof createKafka>;

const SUMMARY =
  `Lists the dead-letter topic grouped by error kind and reason; --replay re-publishes letters.

Replay sends each letter's original key, bytes and headers (without error.* and
source.*, plus replayed.from) to its source.topic (or --to TOPIC). Progress is kept
by the consumer group <dlq>.replay (<dlq>.replay.<kind> with --kind), committed
only after Kafka acknowledged the messages, so running it twice re-publishes nothing.
Replay messages that never landed in BigQuery (fixed since, or a transient cause):
a replayed tutorial-format event (no event_id) gets a new derived event_id from its
new offset, so it would count twice if its first copy had been stored.`;

async function topicExists(kafka: Kafka, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

async function list(kafka: Kafka, config: Config): Promise<string> {
  const summary = createDlqSummary({ topic: config.dlqTopic, limit: config.limit });
  if (await topicExists(kafka, config.dlqTopic)) {
    await readToEnd(kafka, {
      topic: config.dlqTopic,
      onBatch: (records) => {
        for (const record of records) summary.add(record);
        return Promise.resolve();
      },
    });
  }
  const report = summary.report();
  return config.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report);
}

async function replay(kafka: Kafka, config: Config, report: ReplayReport): Promise<void> {
  const dlq = config.dlqTopic;
  const admin = kafka.admin();
  await admin.connect();
  const producer = createProducer(kafka);
  try {
    const topics = new Set(await admin.listTopics());
    if (!topics.has(dlq)) return;
    if (config.to !== undefined && !topics.has(config.to)) {
      throw new Error(`Cannot replay to ${config.to}: the topic does not exist`);
    }
    // A letter is done when the unfiltered group or its kind's group is past it.
    const allDone = await committedOffsetsOf(admin, replayGroup(dlq), dlq);
    const kindDone = new Map<string, Map<number, bigint>>();
    const doneByKind = async (kind: string, partition: number): Promise<bigint> => {
      if (!KIND.test(kind)) return 0n;
      let offsets = kindDone.get(kind);
      if (offsets === undefined) {
        offsets = await committedOffsetsOf(admin, replayGroup(dlq, kind), dlq);
        kindDone.set(kind, offsets);
      }
      return offsets.get(partition) ?? 0n;
    };
    if (!config.dryRun) await producer.connect();

    await readToEnd(kafka, {
      topic: dlq,
      groupId: report.group,
      ...(config.kind === undefined ? {} : { from: allDone }),
      commit: !config.dryRun,
      onBatch: async (records) => {
        const batches = new Map<string, ReplayMessage[]>();
        for (const record of records) {
          report.read++;
          const kind = letterKind(record);
          if (config.kind !== undefined && kind !== config.kind) {
            report.otherKinds++;
            continue;
          }
          if (
            config.kind === undefined &&
            BigInt(record.offset) < await doneByKind(kind, record.partition)
          ) {
            report.alreadyReplayed++;
            continue;
          }
          const letter = coordinates(dlq, record.partition, record.offset);
          const target = replayTarget(record, config.to);
          if (target === undefined) {
            throw new Error(
              `Cannot replay ${letter}: it has no source.topic header (name a topic with --to)`,
            );
          }
          if (target === dlq) throw new Error(`Cannot replay ${letter} into the DLQ itself`);
          if (!topics.has(target)) {
            throw new Error(`Cannot replay ${letter} to ${target}: the topic does not exist`);
          }
          const batch = batches.get(target) ?? [];
          batch.push(replayMessage(record, dlq));
          batches.set(target, batch);
        }
        for (const [target, messages] of batches) {
          if (!config.dryRun) await publish(producer, target, messages);
          report.published[target] = (report.published[target] ?? 0) + messages.length;
        }
      },
    });
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

async function main(): Promise<number> {
  const config = parseArgsOrExit({
    usage: "deno task dlq [--replay [--to TOPIC] [--kind KIND] [--dry-run]] [options]",
    summary: SUMMARY,
  }, options);
  await setupLogging({ level: config.logLevel });
  const log = logger("dlq");
  const kafka = createKafka({ ...config, clientId: "livecharts-dlq" });
  if (!config.replay) {
    if (config.to !== undefined || config.kind !== undefined || config.dryRun) {
      log.warn("--to, --kind and --dry-run only apply with --replay");
    }
    console.log((await list(kafka, config)).trimEnd());
    await stopLogging();
    return 0;
  }
  const report = emptyReplayReport({
    dlqTopic: config.dlqTopic,
    kind: config.kind,
    dryRun: config.dryRun,
  });
  try {
    await replay(kafka, config, report);
  } catch (error) {
    report.error = errorMessage(error);
  }
  console.log(
    config.json ? JSON.stringify(report, null, 2) : formatReplayReport(report).trimEnd(),
  );
  await stopLogging();
  return report.error === null ? 0 : 1;
}

if (import.meta.main) {
  main().then(Deno.exit, async (error) => {
    logger("dlq").fatal("dlq failed: {error}", { error: errorMessage(error) });
    await stopLogging();
    Deno.exit(1);
  });
}
