// Durability of `deno task produce` on a production topology: three brokers,
// replication 3, min.insync.replicas 2, while partition leaders move the way
// they do in production (a leader's node SIGKILLed and restarted, preferred
// leader elections). A librdkafka producer (kcat, idempotent, acks=all) does
// the same beside it on its own topic as the reference.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { decodeEvent } from "../../shared/event.ts";
import { createAdmin, createKafka, ensureTopic } from "../../shared/kafka/mod.ts";
import {
  CLUSTER_BROKERS,
  CLUSTER_NODES,
  electPreferredLeaders,
  hasKcat,
  killNode,
  type PartitionState,
  startCluster,
  topicState,
} from "../support/cluster.ts";
import {
  producerArgs,
  type ReadMessage,
  readTopic,
  startScript,
  uniqueName,
  waitFor,
} from "../support/harness.ts";

const PARTITIONS = 12;
// 1,000 events/s (the run: 300/s): a request is in flight at most
// kills, so each kill can catch one. Before the publisher sent one partition
// per request, every run at these numbers lost or duplicated events (up to
// 184 lost and 491 extra records); override with these variables to explore.
const EVENTS = Number(Deno.env.get("LIVECHARTS_DURABILITY_EVENTS") ?? 60_000);
const RATE = Number(Deno.env.get("LIVECHARTS_DURABILITY_RATE") ?? 1_000);
/** Least time between two kills. */
const KILL_EVERY_MS = 8_000;
/** Kills in a run (each moves a third of the leaders, and back in an election every third). */
const KILLS = 6;
const TEST_TIMEOUT_MS = 300_000;

/** Creates `topic` with 12 partitions, replication 3, min ISR 2, and waits until all replicas are in sync. */
async function createTopic(topic: string): Promise<void> {
  const kafka = createKafka({ brokers: CLUSTER_BROKERS, clientId: "livecharts-tests" });
  const config = { "min.insync.replicas": "2", "unclean.leader.election.enable": "false" };
  // A node that has just (re)joined may answer before it knows the others.
  let failure: unknown;
  await waitFor(
    `${topic} created`,
    async () => {
      failure = undefined;
      await ensureTopic(kafka, topic, PARTITIONS, config).catch((error) => failure = error);
      return failure === undefined;
    },
    30_000,
    500,
  ).catch((error) => {
    throw failure ?? error;
  });
  await waitFor(
    `every replica of ${topic} in sync`,
    async () => {
      const state = await topicState(topic).catch(() => []);
      return state.length === PARTITIONS && state.every((p) => p.isr.length === 3);
    },
    30_000,
    250,
  );
}

/** Counts of one topic: records, distinct ids. */
interface Held {
  records: number;
  distinct: number;
}

function held(ids: readonly string[]): Held {
  return { records: ids.length, distinct: new Set(ids).size };
}

/**
 * The reference: kcat (librdkafka) producing `count` messages at `rate` per
 * second, idempotent with acks=all, keyed like the producer's events. Resolves
 * when kcat exited (it flushes everything first) with its exit code and stderr.
 */
function startReference(
  topic: string,
  count: number,
  rate: number,
  signal: AbortSignal,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command("kcat", {
    args: [
      "-P",
      "-b",
      CLUSTER_BROKERS.join(","),
      "-t",
      topic,
      "-K",
      "\t",
      "-X",
      "enable.idempotence=true",
      "-X",
      "acks=all",
      "-X",
      "linger.ms=20",
      // One request at a time, as our publisher: with 5 in flight, librdkafka
      // 2.x raised a fatal OUT_OF_ORDER_SEQUENCE_NUMBER here once in nine
      // runs (a later batch reaching a new leader before an earlier one).
      "-X",
      "max.in.flight.requests.per.connection=1",
      // Connected to every broker, reconnecting as soon as one is back: with
      // librdkafka's default sparse connections a node restarted but not yet
      // needed stays "down", and kcat ends ("all brokers are down") when the
      // next kill takes the last connection it held.
      "-X",
      "enable.sparse.connections=false",
      "-X",
      "reconnect.backoff.max.ms=1000",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const onAbort = () => child.kill("SIGKILL");
  signal.addEventListener("abort", onAbort, { once: true });
  const feed = (async () => {
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    const started = performance.now();
    let written = 0;
    while (written < count && !signal.aborted) {
      const due = Math.min(count, Math.floor((performance.now() - started) * rate / 1000) + 1);
      let lines = "";
      for (; written < due; written++) lines += `song-${written % 997}\tref-${written}\n`;
      if (lines !== "") await writer.write(encoder.encode(lines));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await writer.close();
  })().catch(() => {}); // kcat ended early: its exit code and stderr tell why

  return Promise.all([child.output(), feed]).then(([output]) => {
    signal.removeEventListener("abort", onAbort);
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  });
}

/** Every record of `topic` on the cluster (asked again while the client's metadata is stale). */
async function readAll(topic: string): Promise<ReadMessage[]> {
  let messages: ReadMessage[] = [];
  let failure: unknown;
  await waitFor(
    `the records of ${topic}`,
    async () => {
      failure = undefined;
      messages = await readTopic(topic, { brokers: CLUSTER_BROKERS }).catch((error) => {
        failure = error;
        return [];
      });
      return failure === undefined;
    },
    30_000,
    500,
  ).catch((error) => {
    throw failure ?? error;
  });
  return messages;
}

/** What the churn did. */
interface Churn {
  kills: number;
  /** Partition leaderships that moved to another node, over all kills and elections. */
  moves: number;
  elections: number;
}

function leaderMoves(before: readonly PartitionState[], after: readonly PartitionState[]): number {
  return after.filter((p) => {
    const old = before.find((b) => b.partition === p.partition);
    return old !== undefined && p.leader !== -1 && old.leader !== p.leader;
  }).length;
}

/**
 * Until `done` aborts, {@linkcode KILLS} times: kills the node leading most partitions of `topic`
 * (SIGKILL), waits until its partitions have other leaders, restarts it,
 * waits until it is back in every ISR of `topics`, and every third round
 * gives the restarted node its preferred leaderships back; at most one kill
 * per {@linkcode KILL_EVERY_MS}.
 */
async function churnLeaders(topic: string, topics: string[], done: AbortSignal): Promise<Churn> {
  const churn: Churn = { kills: 0, moves: 0, elections: 0 };
  let lastKill = 0;
  while (!done.aborted && churn.kills < KILLS) {
    const wait = lastKill + KILL_EVERY_MS - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 250)));
    if (wait > 0) continue;
    const before = await topicState(topic);
    const led = CLUSTER_NODES.map((node) => before.filter((p) => p.leader === node).length);
    const victim = CLUSTER_NODES[led.indexOf(Math.max(...led))]!;
    lastKill = Date.now();
    await killNode(victim);
    churn.kills++;
    // Restarted at once, as a supervisor would: the controller moves its
    // leaders when it fences the dead node or when the new one registers.
    const restarted = startCluster();
    await waitFor(
      `the partitions of node ${victim} to get other leaders`,
      async () => {
        const state = await topicState(topic).catch(() => []);
        return state.length === PARTITIONS &&
          state.every((p) => p.leader !== victim && p.leader !== -1);
      },
      30_000,
      250,
    );
    const moved = await topicState(topic);
    churn.moves += leaderMoves(before, moved);
    await restarted;
    await waitFor(
      `node ${victim} back in every ISR`,
      async () => {
        for (const name of topics) {
          const state = await topicState(name).catch(() => []);
          if (state.length !== PARTITIONS || state.some((p) => !p.isr.includes(victim))) {
            return false;
          }
        }
        return true;
      },
      60_000,
      500,
    );
    if (churn.kills % 3 === 0 && !done.aborted) {
      await electPreferredLeaders();
      churn.elections++;
      churn.moves += leaderMoves(moved, await topicState(topic));
    }
  }
  return churn;
}

/** The producer's summary: "Stopped: N events delivered, E failed attempts retried, U undelivered". */
function summary(stderr: string): { delivered: number; retried: number; undelivered: number } {
  const match = /Stopped: (\d+) events delivered, (\d+) failed attempts retried, (\d+) undelivered/
    .exec(stderr);
  assert.ok(match, `the producer's summary line, in:\n${stderr.slice(-3000)}`);
  return { delivered: Number(match[1]), retried: Number(match[2]), undelivered: Number(match[3]) };
}

test({
  name:
    "producer loses and duplicates no acknowledged event while leaders move on three brokers, as librdkafka does",
  timeoutMs: TEST_TIMEOUT_MS + 60_000,
  // Without kcat the reference cannot run; on CI it must (.ci/run installs it).
  ignore: !(await hasKcat()) && Deno.env.get("CI") !== "true",
  async fn() {
    const deadline = AbortSignal.timeout(TEST_TIMEOUT_MS);
    await startCluster();
    const topic = uniqueName("durable");
    const reference = uniqueName("durable_ref");
    await Promise.all([createTopic(topic), createTopic(reference)]);
    const logDir = await Deno.makeTempDir({ prefix: "livecharts_durability_" });
    const logFile = `${logDir}/producer.log`;

    const started = Date.now();
    const producer = await startScript(
      "produce",
      producerArgs(topic, { count: EVENTS, rate: RATE, partitions: PARTITIONS, logFile }),
      { KAFKA_BROKERS: CLUSTER_BROKERS.join(",") },
    );
    const stopped = new AbortController();
    const stopAll = AbortSignal.any([stopped.signal, deadline]);
    const onDeadline = () => producer.kill("SIGKILL");
    deadline.addEventListener("abort", onDeadline, { once: true });
    try {
      await waitFor("the producer to start", () => /Producing to/.test(producer.stderr()), 60_000);
      const referenceDone = startReference(reference, EVENTS, RATE, deadline);
      const churn = churnLeaders(topic, [topic, reference], stopAll);
      const result = await producer.done;
      stopped.abort();
      const [faults, ref] = await Promise.all([churn, referenceDone]);
      assert.ok(!deadline.aborted, `finished within ${TEST_TIMEOUT_MS} ms`);
      const seconds = (Date.now() - started) / 1000;

      const reported = summary(result.stderr);
      const logged = (await Deno.readTextFile(logFile)).split("\n")
        .map((line) => new RegExp(`Delivered (\\d+) events to ${topic}\\b`).exec(line)?.[1])
        .filter((count) => count !== undefined)
        .reduce((sum, count) => sum + Number(count), 0);
      const ours = held(
        (await readAll(topic)).map((message) => decodeEvent(message.value).event_id),
      );
      const theirs = held(
        (await readAll(reference)).map((message) =>
          new TextDecoder().decode(message.value ?? new Uint8Array())
        ),
      );
      console.log(
        `durability: ${seconds.toFixed(0)} s, ${faults.kills} kills, ${faults.elections} ` +
          `elections, ${faults.moves} leader moves; producer: ${reported.delivered} acknowledged ` +
          `(log ${logged}), ${reported.retried} attempts retried, ${reported.undelivered} ` +
          `undelivered, topic ${ours.records} records / ${ours.distinct} distinct; ` +
          `kcat: exit ${ref.code}, ${theirs.records} records / ${theirs.distinct} distinct`,
      );

      // The faults happened: leaders moved, many times.
      assert.equal(faults.kills, KILLS, "kills");
      assert.ok(faults.moves >= faults.kills, `${faults.moves} leader moves`);
      // The reference holds on the same cluster: the faults lose nothing acknowledged.
      assert.equal(ref.code, 0, ref.stderr);
      assert.deepEqual(theirs, { records: EVENTS, distinct: EVENTS }, "kcat's topic");
      // The producer: everything acknowledged is there, once.
      assert.equal(result.code, 0, result.stderr.slice(-3000));
      assert.deepEqual(reported, { ...reported, delivered: EVENTS, undelivered: 0 });
      assert.equal(logged, EVENTS, "deliveries in producer.log");
      // On a failure, the producer's warnings say what it went through.
      const warnings = result.stderr.split("\n").filter((line) => /WARN|ERROR/.test(line));
      assert.deepEqual(
        ours,
        { records: EVENTS, distinct: EVENTS },
        `the producer's topic; its warnings:\n${warnings.slice(-20).join("\n")}`,
      );
    } finally {
      deadline.removeEventListener("abort", onDeadline);
      stopped.abort();
      producer.kill("SIGKILL");
      await producer.done;
      // Every node running, and the topics gone: a node restarts in seconds
      // when it has few partitions to load.
      await startCluster();
      const admin = createAdmin(
        createKafka({ brokers: CLUSTER_BROKERS, clientId: "livecharts-tests" }),
      );
      await admin.deleteTopics([topic, reference]).finally(() => admin.close());
      await Deno.remove(logDir, { recursive: true });
    }
  },
});

test({
  name:
    "producer sends a request again, unchanged, when the client gave up on it, and writes it once",
  timeoutMs: 240_000,
  ignore: !(await hasKcat()) && Deno.env.get("CI") !== "true",
  async fn() {
    // min.insync.replicas 3: one node down refuses every request
    // (NOT_ENOUGH_REPLICAS) until it is back, longer than kafkajs retries.
    await startCluster();
    const topic = uniqueName("outage");
    const kafka = createKafka({ brokers: CLUSTER_BROKERS, clientId: "livecharts-tests" });
    await waitFor(
      `${topic} created`,
      () =>
        ensureTopic(kafka, topic, 3, { "min.insync.replicas": "3" }).then(() => true, () => false),
      30_000,
      500,
    );
    const logDir = await Deno.makeTempDir({ prefix: "livecharts_outage_" });
    const logFile = `${logDir}/producer.log`;
    const count = 3_000;
    const producer = await startScript(
      "produce",
      [
        ...producerArgs(topic, { count, rate: 100, partitions: 3, logFile }),
        "--log-level",
        "debug",
      ],
      { KAFKA_BROKERS: CLUSTER_BROKERS.join(",") },
    );
    const log = () => Deno.readTextFile(logFile).catch(() => "");
    // Its own timeout: a producer that never finishes is killed (and fails the checks).
    const deadline = setTimeout(() => producer.kill("SIGKILL"), 240_000);
    try {
      await waitFor(
        "a first delivery",
        async () => /Delivered \d+ events/.test(await log()),
        60_000,
      );
      const victim = (await topicState(topic))[0]!.leader;
      await killNode(victim);
      // The fault happened: kafkajs gave up, and the publisher sends the request again.
      await waitFor(
        "the publisher to retry a request the client gave up on",
        async () => /Retrying a request to /.test(await log()),
        120_000,
        500,
      );
      await startCluster();
      const result = await producer.done;
      assert.equal(result.code, 0, result.stderr.slice(-3000));
      assert.deepEqual(summary(result.stderr), {
        delivered: count,
        retried: 0,
        undelivered: 0,
      });
      assert.doesNotMatch(await log(), /Replacing a producer/, "the producer id was kept");
      const ours = held((await readAll(topic)).map((m) => decodeEvent(m.value).event_id));
      assert.deepEqual(ours, { records: count, distinct: count });
    } finally {
      clearTimeout(deadline);
      producer.kill("SIGKILL");
      await producer.done;
      await startCluster();
      const admin = createAdmin(kafka);
      await admin.deleteTopics([topic]).finally(() => admin.close());
      await Deno.remove(logDir, { recursive: true });
    }
  },
});
