// The consumer on a production topology: three brokers (replication 3,
// min.insync.replicas 2), two consumers in one group, `deno task produce`
// as the load, while partition leaders move the way they do in production
// (a leader's node SIGKILLed and restarted, a rolling restart of every
// node) and while a consumer is frozen past its session and wakes up after
// the group moved on (a zombie). Each test ends with BigQuery holding every
// acknowledged event once: COUNT(*) = COUNT(DISTINCT event_id) = events
// acknowledged, and checks that its fault happened.
//
// The tests stop and kill nodes of the shared cluster: they run alone, never
// beside another test that moves the cluster's leaders (two nodes down leave
// no partition writable with min.insync.replicas 2).

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { decodeEvent } from "../../shared/event.ts";
import { createAdmin, createKafka, ensureTopic } from "../../shared/kafka/mod.ts";
import { groupNow } from "../support/group_generation.ts";
import {
  CLUSTER_BROKERS,
  CLUSTER_NODES,
  hasKcat,
  killNode,
  type PartitionState,
  startCluster,
  stopNode,
  topicState,
} from "../support/cluster.ts";
import { assertExactly, faultNames } from "../support/faults.ts";
import { startDashboard } from "../../bench/dashboard.ts";
import { tail } from "../../shared/launch/tasks.ts";
import { waitForEqualBigQuery } from "../support/dashboard.ts";
import { murmur2 } from "../../shared/kafka/key_partitioner.ts";
import {
  consumerArgs,
  producerArgs,
  readTopic,
  type Script,
  startScript,
  storedEventIds,
  waitFor,
  waitForStored,
} from "../support/harness.ts";

const PARTITIONS = 6;
/** Events per second of the load: each fault catches appends and commits in flight. */
const RATE = 300;
const ON_CLUSTER = { KAFKA_BROKERS: CLUSTER_BROKERS.join(",") };
// Without kcat the partition leaders cannot be read; on CI it must be there.
const ignore = !(await hasKcat()) && Deno.env.get("CI") !== "true";

function clusterKafka() {
  return createKafka({ brokers: CLUSTER_BROKERS, clientId: "livecharts-tests" });
}

/** Creates `topic` on the cluster and waits until every replica is in sync. */
async function createTopic(topic: string): Promise<void> {
  const kafka = clusterKafka();
  let failure: unknown;
  await waitFor(
    `${topic} created`,
    async () => {
      failure = undefined;
      await ensureTopic(kafka, topic, PARTITIONS, { "min.insync.replicas": "2" })
        .catch((error) => failure = error);
      return failure === undefined;
    },
    30_000,
    500,
  ).catch((error) => {
    throw failure ?? error;
  });
  await waitInSync(topic);
}

/** Waits until every partition of `topic` has a leader and three replicas in sync. */
async function waitInSync(topic: string): Promise<void> {
  await waitFor(
    `every replica of ${topic} in sync`,
    async () => {
      const state = await topicState(topic).catch(() => []);
      return state.length === PARTITIONS && state.every((p) => p.leader > 0 && p.isr.length === 3);
    },
    60_000,
    250,
  );
}

/** Waits until no partition of `topic` is led by `node` (and every one has a leader). */
async function waitLeadersOff(topic: string, node: number): Promise<PartitionState[]> {
  let state: PartitionState[] = [];
  await waitFor(
    `the partitions of node ${node} to get other leaders`,
    async () => {
      state = await topicState(topic).catch(() => []);
      return state.length === PARTITIONS && state.every((p) => p.leader !== node && p.leader > 0);
    },
    30_000,
    250,
  );
  return state;
}

function leaderMoves(before: readonly PartitionState[], after: readonly PartitionState[]): number {
  return after.filter((p) => {
    const old = before.find((b) => b.partition === p.partition);
    return old !== undefined && p.leader > 0 && old.leader !== p.leader;
  }).length;
}

/** Waits until `group` is Stable with `members` members after `after`; returns its generation. */
async function stableWith(group: string, members: number, after = -1): Promise<number> {
  let last = { state: "", members: 0, generation: -1 };
  await waitFor(
    `group ${group} Stable with ${members} member(s) after generation ${after}`,
    async () => {
      last = await groupNow(clusterKafka(), group).catch(() => last);
      return last.state === "Stable" && last.members === members && last.generation > after;
    },
    45_000,
    250,
  ).catch((error) => {
    throw new Error(`${error.message} (last: ${JSON.stringify(last)})`);
  });
  return last.generation;
}

/** The producer's summary line: events acknowledged and not. */
function summary(stderr: string): { delivered: number; undelivered: number } {
  const match = /Stopped: (\d+) events delivered, \d+ failed attempts retried, (\d+) undelivered/
    .exec(stderr);
  assert.ok(match, `the producer's summary line, in:\n${stderr.slice(-3000)}`);
  return { delivered: Number(match[1]), undelivered: Number(match[2]) };
}

/** Event ids of every record of `topic` on the cluster (asked again while metadata is stale). */
async function topicIds(topic: string): Promise<string[]> {
  let ids: string[] = [];
  let failure: unknown;
  await waitFor(
    `the records of ${topic}`,
    async () => {
      failure = undefined;
      try {
        const messages = await readTopic(topic, { brokers: CLUSTER_BROKERS });
        ids = messages.map((message) => decodeEvent(message.value).event_id);
      } catch (error) {
        failure = error;
      }
      return failure === undefined;
    },
    30_000,
    500,
  ).catch((error) => {
    throw failure ?? error;
  });
  return ids;
}

/** What a run of the pipeline on the cluster needs: names, two consumers, the load. */
interface Pipeline {
  n: { topic: string; group: string; table: string };
  consumers: Script[];
  producer: Script;
}

/**
 * Creates the topic, starts two consumers and the load (`producerExtra`:
 * more producer flags), and waits until rows land.
 */
async function startPipeline(producerExtra: readonly string[] = []): Promise<Pipeline> {
  await startCluster();
  const n = faultNames();
  await createTopic(n.topic);
  const consumers = [
    await startScript("consume", consumerArgs(n), ON_CLUSTER),
    await startScript("consume", consumerArgs(n), ON_CLUSTER),
  ];
  const producer = await startScript(
    "produce",
    [...producerArgs(n.topic, { rate: RATE, partitions: PARTITIONS }), ...producerExtra],
    ON_CLUSTER,
  );
  return { n, consumers, producer };
}

/** The last lines of what the pipeline's scripts logged. */
function tails(p: Pipeline): string {
  const last = (script: Script) => script.stderr().split("\n").slice(-25).join("\n");
  return [
    ...p.consumers.map((consumer, i) => `consumer ${i + 1}:\n${last(consumer)}`),
    `producer:\n${last(p.producer)}`,
  ].join("\n");
}

/** The consumers' warnings and errors (a count that failed is read with them). */
function notable(stderr: string[]): string {
  return stderr.map((text, i) => {
    const lines = text.split("\n").filter((line) => / (WARNING|ERROR) /.test(line));
    return `consumer ${i + 1}, ${lines.length} warnings and errors:\n${
      lines.slice(-40).join("\n")
    }`;
  }).join("\n");
}

/** Waits until `more` distinct rows more than now are in the table. */
async function moreRows(p: Pipeline, more: number): Promise<void> {
  const table = p.n.table;
  const from = (await storedEventIds(table).catch(() => new Set())).size;
  let stored = from;
  await waitFor(
    `more than ${from + more} rows in ${table}`,
    async () => {
      stored = (await storedEventIds(table).catch(() => new Set())).size;
      return stored > from + more;
    },
    45_000,
    250,
  ).catch((error) => {
    throw new Error(`${error.message} (${stored} stored)\n${tails(p)}`);
  });
}

/**
 * Stops the load, waits until BigQuery holds every event it acknowledged,
 * stops the consumers (exit 0) and checks the count. Returns the consumers'
 * stderr.
 */
async function finish(p: Pipeline): Promise<{ acknowledged: number; stderr: string[] }> {
  p.producer.kill("SIGTERM");
  const produced = await p.producer.done;
  assert.equal(produced.code, 0, produced.stderr.slice(-3000));
  const reported = summary(produced.stderr);
  assert.equal(reported.undelivered, 0, "every event the producer tried was acknowledged");
  const ids = await topicIds(p.n.topic);
  const expected = new Set(ids);
  assert.deepEqual(
    { records: ids.length, distinct: expected.size },
    { records: reported.delivered, distinct: reported.delivered },
    "the topic holds each acknowledged event once",
  );
  await waitForStored(p.n.table, expected.size, 60_000).catch((error) => {
    throw new Error(`${error.message}\n${tails(p)}`);
  });
  const stderr: string[] = [];
  for (const consumer of p.consumers) {
    consumer.kill("SIGTERM");
    const result = await consumer.done;
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    stderr.push(result.stderr);
  }
  await assertExactly(p.n.table, expected).catch(async (error) => {
    const dir = await Deno.makeTempDir({ prefix: "livecharts-count-" });
    for (const [i, text] of stderr.entries()) {
      await Deno.writeTextFile(`${dir}/consumer-${i + 1}.log`, text);
    }
    throw new Error(`${error.message} (the consumers' logs: ${dir})\n${notable(stderr)}`);
  });
  return { acknowledged: expected.size, stderr };
}

/** Stops what is still running, restarts any stopped node, and deletes the topics. */
async function cleanUp(p: Pipeline | undefined): Promise<void> {
  if (p === undefined) return;
  for (const script of [p.producer, ...p.consumers]) {
    script.kill("SIGCONT");
    script.kill("SIGKILL");
    await script.done;
  }
  await startCluster();
  const admin = createAdmin(clusterKafka());
  await admin.deleteTopics([p.n.topic, `${p.n.topic}.dlq`]).catch(() => {}).finally(() =>
    admin.close()
  );
}

/**
 * `rounds` times: SIGKILLs the node leading most of the topic's partitions
 * (never the one killed last), starts it again at once as a supervisor
 * would, waits for the leaders to move off it and every replica to be back
 * in sync, then produces 300 more rows (the consumers commit on the new
 * leaders' partitions). Returns the nodes killed and the leader moves seen.
 */
async function killBusiestLeaders(
  p: Pipeline,
  rounds: number,
): Promise<{ victims: number[]; moves: number }> {
  const victims: number[] = [];
  let moves = 0;
  for (let round = 0; round < rounds; round++) {
    const before = await topicState(p.n.topic);
    const candidates = CLUSTER_NODES.filter((node) => node !== victims.at(-1));
    const led = candidates.map((node) => before.filter((q) => q.leader === node).length);
    const victim = candidates[led.indexOf(Math.max(...led))]!;
    victims.push(victim);
    await killNode(victim);
    const restarted = startCluster();
    moves += leaderMoves(before, await waitLeadersOff(p.n.topic, victim));
    await restarted;
    await waitInSync(p.n.topic);
    await moreRows(p, 300);
  }
  return { victims, moves };
}

/** What the consumers went through, from their logs: assignments and stale batches dropped. */
function consumerLog(stderr: readonly string[]): string {
  const count = (pattern: RegExp) =>
    stderr.reduce((sum, text) => sum + (text.match(pattern)?.length ?? 0), 0);
  return `${count(/Assigned partitions/g)} assignments, ` +
    `${
      count(/Cannot commit to Kafka \(This is not the correct coordinator/g)
    } commits refused by a former coordinator, ` +
    `${count(/dropped a stale batch/g)} stale batches dropped`;
}

test({
  name:
    "consumers lose and duplicate nothing while partition leaders are SIGKILLed and restarted under load, on different brokers",
  timeoutMs: 150_000,
  ignore,
  async fn() {
    const started = Date.now();
    let p: Pipeline | undefined;
    try {
      p = await startPipeline();
      await moreRows(p, 300);
      const { victims, moves } = await killBusiestLeaders(p, 3);
      const { acknowledged, stderr } = await finish(p);
      // The faults happened: different brokers were killed, and leaders moved.
      assert.ok(new Set(victims).size >= 2, `victims ${victims}`);
      assert.ok(moves >= victims.length, `${moves} leader moves`);
      console.log(
        `leader kills: nodes ${victims.join(",")}, ${moves} leader moves, ${acknowledged} events ` +
          `acknowledged and stored once, ${consumerLog(stderr)}, ` +
          `${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    } finally {
      await cleanUp(p);
    }
  },
});

test({
  name:
    "consumers lose and duplicate nothing through a rolling restart of all three brokers under load",
  timeoutMs: 150_000,
  ignore,
  async fn() {
    const started = Date.now();
    let p: Pipeline | undefined;
    try {
      p = await startPipeline();
      await moreRows(p, 300);
      let moves = 0;
      for (const node of CLUSTER_NODES) {
        const before = await topicState(p.n.topic);
        await stopNode(node); // controlled shutdown: its leaders move first
        moves += leaderMoves(before, await waitLeadersOff(p.n.topic, node));
        await startCluster();
        await waitInSync(p.n.topic);
        await moreRows(p, 300);
      }
      const { acknowledged, stderr } = await finish(p);
      assert.ok(moves >= 1, `${moves} leader moves`);
      console.log(
        `rolling restart: ${moves} leader moves, ${acknowledged} events acknowledged and stored ` +
          `once, ${consumerLog(stderr)}, ` +
          `${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    } finally {
      await cleanUp(p);
    }
  },
});

test({
  name:
    "a consumer frozen past its session (SIGSTOP) and woken after the group moved on stores and commits nothing that breaks the count",
  timeoutMs: 150_000,
  ignore,
  async fn() {
    const started = Date.now();
    let p: Pipeline | undefined;
    try {
      p = await startPipeline();
      const [zombie] = p.consumers;
      const together = await stableWith(p.n.group, 2);
      await moreRows(p, 300);
      zombie!.kill("SIGSTOP");
      const frozenAt = Date.now();
      // The coordinator drops it after its session: a new generation with the other alone.
      const alone = await stableWith(p.n.group, 1, together);
      const frozenFor = Date.now() - frozenAt;
      // The other consumer writes and commits the zombie's partitions for a while.
      await moreRows(p, 600);
      zombie!.kill("SIGCONT");
      // It wakes with appends and commits of the old generation in flight, then joins again.
      const again = await stableWith(p.n.group, 2, alone);
      await moreRows(p, 300);
      const { acknowledged, stderr } = await finish(p);
      assert.ok(together < alone && alone < again, `generations ${together}, ${alone}, ${again}`);
      console.log(
        `zombie: frozen ${(frozenFor / 1000).toFixed(1)} s before the group moved on ` +
          `(generation ${together} → ${alone} → ${again}), ${acknowledged} events acknowledged ` +
          `and stored once; the zombie's log: ${
            (stderr[0]!.match(/Cannot commit[^\n]*/g) ?? []).length
          } refused commits, ${consumerLog(stderr)}, ` +
          `${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    } finally {
      await cleanUp(p);
    }
  },
});

test({
  name:
    "dashboard on the cluster: it starts and counts while partition leaders are SIGKILLed under load, and equals BigQuery",
  timeoutMs: 180_000,
  ignore,
  async fn() {
    let p: Pipeline | undefined;
    let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
    try {
      p = await startPipeline();
      await moreRows(p, 300);
      const names = { ...p.n, view: `${p.n.table}_top` };
      // Started on the cluster with history in BigQuery and the load flowing:
      // its history is asked for while its reader joins its group.
      dashboard = await startDashboard(names, {
        args: ["--brokers", CLUSTER_BROKERS.join(","), "--reconcile-every", "0"],
        timeoutMs: 90_000,
      });
      const live = dashboard.child.lines.map((line) => /(\d+) plays from BigQuery/.exec(line.text))
        .find((match) => match !== null);
      const seeded = Number(live?.[1] ?? 0);
      assert.ok(seeded > 0, `it started from BigQuery's history: ${live?.[0]}`);
      const { victims, moves } = await killBusiestLeaders(p, 2);
      const { acknowledged } = await finish(p);
      // The faults happened: leaders moved while the dashboard read.
      assert.ok(new Set(victims).size >= 2, `victims ${victims}`);
      assert.ok(moves >= victims.length, `${moves} leader moves`);
      // Every artist in every window and all time equal BigQuery's
      // COUNT(DISTINCT event_id), which finish() checked equal to COUNT(*).
      const state = await waitForEqualBigQuery(dashboard.url, names.table, 60_000);
      const all = [...state.entries()].filter(([key]) => key.endsWith(" all"))
        .reduce((sum, [, window]) => sum + window.total, 0);
      assert.equal(all, acknowledged, "the dashboard's all time counts every acknowledged event");
      console.log(
        `dashboard on the cluster: nodes ${victims.join(",")} killed, ${moves} leader moves, ` +
          `${acknowledged} events counted once (${seeded} of them from BigQuery at start)`,
      );
    } finally {
      if (dashboard !== undefined) {
        const stopped = await dashboard.stop();
        assert.equal(stopped.code, 0, tail(stopped.lines));
      }
      await cleanUp(p);
    }
  },
});

test({
  name:
    "sharded dashboards on the cluster: each counts its partitions' artists while leaders are SIGKILLed, together equal to BigQuery",
  timeoutMs: 180_000,
  ignore,
  async fn() {
    const shares = [[0, 1, 2], [3, 4, 5]];
    /** The partition Kafka's default partitioner gives a play keyed by `artist`. */
    const partitionOf = (artist: string) =>
      (murmur2(new TextEncoder().encode(artist)) & 0x7fffffff) % PARTITIONS;
    let p: Pipeline | undefined;
    const shards: Awaited<ReturnType<typeof startDashboard>>[] = [];
    try {
      p = await startPipeline(["--key-by", "artist"]);
      await moreRows(p, 300);
      const names = { ...p.n, view: `${p.n.table}_top` };
      for (const share of shares) {
        shards.push(
          await startDashboard(names, {
            args: [
              "--brokers",
              CLUSTER_BROKERS.join(","),
              "--reconcile-every",
              "0",
              "--only-partitions",
              share.join(","),
            ],
            timeoutMs: 90_000,
          }),
        );
      }
      const { victims, moves } = await killBusiestLeaders(p, 2);
      const { acknowledged } = await finish(p);
      // The faults happened: leaders moved while the shards read.
      assert.ok(new Set(victims).size >= 2, `victims ${victims}`);
      assert.ok(moves >= victims.length, `${moves} leader moves`);
      // Each shard: every artist of its partitions, whole, equal to BigQuery's
      // recount over all partitions; none of another shard's artists.
      const served: string[] = [];
      let total = 0;
      for (const [index, shard] of shards.entries()) {
        const owned = (artist: string) => shares[index]!.includes(partitionOf(artist));
        const state = await waitForEqualBigQuery(shard.url, names.table, 60_000, owned);
        const artists = [...new Set([...state.keys()].map((key) => key.split(" ")[0]!))];
        assert.ok(artists.length > 0, `shard ${index} serves no artist`);
        for (const artist of artists) assert.ok(owned(artist), `${artist} in shard ${index}`);
        served.push(...artists);
        total += [...state.entries()].filter(([key]) => key.endsWith(" all"))
          .reduce((sum, [, window]) => sum + window.total, 0);
      }
      assert.equal(new Set(served).size, served.length, "no artist in two shards");
      assert.equal(
        total,
        acknowledged,
        "the shards' all time counts every acknowledged event once",
      );
      console.log(
        `sharded dashboards on the cluster: nodes ${victims.join(",")} killed, ${moves} leader ` +
          `moves, ${acknowledged} events counted once over ${served.length} artists`,
      );
    } finally {
      for (const shard of shards) {
        const stopped = await shard.stop();
        assert.equal(stopped.code, 0, tail(stopped.lines));
      }
      await cleanUp(p);
    }
  },
});
