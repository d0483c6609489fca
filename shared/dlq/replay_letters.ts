/**
 * Replaying a dead-letter topic: reads the letters not replayed yet as the
 * group `<dlq>.replay` (or `<dlq>.replay.<kind>`), re-publishes each to its
 * source topic, and commits past a batch only after Kafka acknowledged its
 * messages, so a second replay does not re-publish them.
 *
 * @module
 */

import { TRUNCATION_HEADERS } from "./fit_letter.ts";
import { errorMessage } from "../errors.ts";
import {
  createAdmin,
  type KafkaAdmin,
  type KafkaClient,
  openPublisher,
  type Publisher,
  readToEnd,
} from "../kafka/mod.ts";
import {
  emptyReplayReport,
  letterKind,
  replayGroup,
  type ReplayMessage,
  replayMessage,
  type ReplayReport,
  replayTarget,
} from "./replay.ts";
import { coordinates, headerText } from "./report.ts";
import { KIND } from "./options.ts";

/** Options of {@linkcode replayDeadLetters}. */
export interface ReplayOptions {
  dlqTopic: string;
  /** The configured source topic (`--topic`): letters go back there, unless `to` is given. */
  topic: string;
  /** Publish every letter here instead of its `source.topic`. */
  to?: string | undefined;
  /** Only letters of this `error.kind` (with its own progress group). */
  kind?: string | undefined;
  /** Report what would be re-published; publish and commit nothing. */
  dryRun: boolean;
}

/** Committed offsets of `group` on `topic`, by partition. */
async function doneOffsets(
  admin: KafkaAdmin,
  group: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const committed = await admin.committed(group, topic);
  return new Map([...committed].map(([partition, { offset }]) => [partition, offset]));
}

/**
 * Replays the letters of `options.dlqTopic` not replayed yet. Never throws:
 * a failure stops the replay and is in the report's `error`, after what was
 * already published and committed.
 */
export async function replayDeadLetters(
  kafka: KafkaClient,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const report = emptyReplayReport(options);
  const { dlqTopic: dlq, to, kind, dryRun } = options;
  const admin = createAdmin(kafka);
  let publisher: Publisher | undefined;
  try {
    const topics = new Set(await admin.listTopics());
    if (!topics.has(dlq)) return report;
    if (to !== undefined && !topics.has(to)) {
      throw new Error(`Cannot replay to ${to}: the topic does not exist`);
    }
    // A letter is done when the unfiltered group or its kind's group is past it.
    const allDone = await doneOffsets(admin, replayGroup(dlq), dlq);
    const kindDone = new Map<string, Map<number, bigint>>();
    const doneByKind = async (letter: string, partition: number): Promise<bigint> => {
      if (!KIND.test(letter)) return 0n;
      let offsets = kindDone.get(letter);
      if (offsets === undefined) {
        offsets = await doneOffsets(admin, replayGroup(dlq, letter), dlq);
        kindDone.set(letter, offsets);
      }
      return offsets.get(partition) ?? 0n;
    };
    if (!dryRun) publisher = await openPublisher(kafka);

    await readToEnd(kafka, {
      topic: dlq,
      groupId: report.group,
      ...(kind === undefined ? {} : { from: allDone }),
      commit: !dryRun,
      onBatch: async (records) => {
        const batches = new Map<string, ReplayMessage[]>();
        for (const record of records) {
          report.read++;
          const recordKind = letterKind(record);
          if (kind !== undefined && recordKind !== kind) {
            report.otherKinds++;
            continue;
          }
          if (
            kind === undefined &&
            BigInt(record.offset) < await doneByKind(recordKind, record.partition)
          ) {
            report.alreadyReplayed++;
            continue;
          }
          const letter = coordinates(dlq, record.partition, record.offset);
          if (headerText(record, TRUNCATION_HEADERS.truncated) === "true") {
            const header = (name: string) => headerText(record, name) ?? "?";
            report.truncated.push(
              `${header("source.topic")}[${header("source.partition")}]@${header("source.offset")}`,
            );
            continue;
          }
          let target: string;
          try {
            target = replayTarget(record, { topic: options.topic, to });
          } catch (error) {
            throw new Error(`Cannot replay ${letter}: ${errorMessage(error)}`);
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
          await publisher?.send(target, messages);
          report.published[target] = (report.published[target] ?? 0) + messages.length;
        }
      },
    });
  } catch (error) {
    report.error = errorMessage(error);
  } finally {
    await publisher?.close().catch(() => {});
    await admin.close().catch(() => {});
  }
  return report;
}
