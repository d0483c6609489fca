/**
 * The three-node Kafka cluster of `infra/services.sh` (`up cluster`) as a
 * test fixture: where it is, who leads each partition (asked with Debian's
 * `kcat`, a librdkafka client), and the ways leaders move in production: a
 * node killed (SIGKILL) and restarted, a preferred leader election
 * (`kafka-leader-election`).
 *
 * @module
 */

import { runCommand } from "./command.ts";

/** Bootstrap addresses of the cluster's nodes 1-3. */
export const CLUSTER_BROKERS = ["127.0.0.1:19091", "127.0.0.1:19092", "127.0.0.1:19093"];

/** The cluster's node ids. */
export const CLUSTER_NODES = [1, 2, 3];

/** One partition's leader and in-sync replicas. */
export interface PartitionState {
  partition: number;
  /** Node id of the leader; -1 while it has none. */
  leader: number;
  isr: number[];
}

/** What a command printed; throws with its output when it failed. */
async function run(command: string, args: string[], what: string): Promise<string> {
  const result = await runCommand(command, args);
  if (!result.ok) {
    throw new Error(
      `Cannot ${what}: ${command} exited with ${result.code}: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Whether `kcat` is on the PATH. */
export async function hasKcat(): Promise<boolean> {
  try {
    return (await new Deno.Command("kcat", { args: ["-V"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** Starts the cluster's stopped nodes (all of them on a cold start) and waits until all answer. */
export async function startCluster(): Promise<void> {
  await run("bash", ["infra/services.sh", "up", "cluster"], "start the Kafka cluster");
}

/** SIGKILLs node `node` of the cluster (no controlled shutdown). */
export async function killNode(node: number): Promise<void> {
  await run("bash", ["infra/services.sh", "kill-node", String(node)], `kill cluster node ${node}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function ids(value: unknown): number[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry) =>
    isRecord(entry) && typeof entry.id === "number" ? [entry.id] : []
  );
}

/**
 * Partitions of `topic` from `kcat -L -J` output, sorted; throws when the
 * output does not describe the topic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTopicMetadata } from "./cluster.ts";
 * const json = JSON.stringify({
 *   topics: [{ topic: "t", partitions: [{ partition: 0, leader: 2, isrs: [{ id: 2 }, { id: 3 }] }] }],
 * });
 * assert.deepEqual(parseTopicMetadata(json, "t"), [{ partition: 0, leader: 2, isr: [2, 3] }]);
 * ```
 */
export function parseTopicMetadata(json: string, topic: string): PartitionState[] {
  const parsed: unknown = JSON.parse(json);
  const topics = isRecord(parsed) && Array.isArray(parsed.topics) ? parsed.topics : [];
  const entry = topics.find((candidate) => isRecord(candidate) && candidate.topic === topic);
  if (!isRecord(entry) || !Array.isArray(entry.partitions) || entry.partitions.length === 0) {
    throw new Error(`Cannot read the partitions of ${topic}: got ${json.slice(0, 300)}`);
  }
  return entry.partitions.flatMap((partition) =>
    isRecord(partition) && typeof partition.partition === "number" &&
      typeof partition.leader === "number"
      ? [{ partition: partition.partition, leader: partition.leader, isr: ids(partition.isrs) }]
      : []
  ).sort((a, b) => a.partition - b.partition);
}

/** Leader and ISR of each partition of `topic`, as the cluster reports them now. */
export async function topicState(topic: string): Promise<PartitionState[]> {
  const json = await run(
    "kcat",
    ["-b", CLUSTER_BROKERS.join(","), "-L", "-J", "-m", "5", "-t", topic],
    `read the metadata of ${topic}`,
  );
  return parseTopicMetadata(json, topic);
}

/**
 * Runs a preferred leader election on every partition (Kafka's
 * `kafka-leader-election --election-type PREFERRED`): each partition whose
 * first replica is in sync but not leading gets it back as leader.
 */
export async function electPreferredLeaders(): Promise<void> {
  const cache = Deno.env.get("LIVECHARTS_CACHE") ?? `${Deno.env.get("HOME")}/.cache/livecharts`;
  const output = await new Deno.Command("java", {
    args: [
      "-Xmx128m",
      "-XX:TieredStopAtLevel=1",
      "-Dlog4j2.level=ERROR",
      "-cp",
      `${cache}/kafka-4.3.1/lib/*`,
      "org.apache.kafka.tools.LeaderElectionCommand",
      "--bootstrap-server",
      CLUSTER_BROKERS.join(","),
      "--election-type",
      "PREFERRED",
      "--all-topic-partitions",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  // It exits 1 when some partition needed no election: only a missing tool is an error.
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success && !/election|Successfully/i.test(text)) {
    throw new Error(`Cannot run a preferred leader election: ${text.trim().slice(0, 500)}`);
  }
}

/** Stops node `node` of the cluster gracefully (SIGTERM: a controlled shutdown moves its leaders first). */
export async function stopNode(node: number): Promise<void> {
  await run("bash", ["infra/services.sh", "stop-node", String(node)], `stop cluster node ${node}`);
}
