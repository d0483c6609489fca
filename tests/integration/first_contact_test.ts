// First contact, the way a user makes it: `deno task …` with a documented
// variable set, run in the repository as a shell would. The tasks compute
// their grants from the configuration (shared/launch/launch.ts), fail fast and
// clearly on an address that does not answer, and start without an ERROR or
// WARNING line. Against the local services of `deno task up`.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { createKafka, ensureTopic } from "../../shared/kafka/mod.ts";
import {
  query,
  readTopic,
  tableRows,
  uniqueName,
  waitFor,
  warehouseFor,
} from "../support/harness.ts";

const ROOT = new URL("../../", import.meta.url);

/** A run of `deno task`: its exit code, output and duration. */
interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A free TCP port on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** `deno task <args>` with `env` added, as a user types it; kills it after `timeoutMs`. */
async function task(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<TaskRun> {
  const started = performance.now();
  const child = new Deno.Command("deno", {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    ms: performance.now() - started,
  };
}

/** Sends SIGTERM to `child` unless it already ended. */
function stop(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGTERM");
  } catch {
    // already ended
  }
}

/** The log lines at WARNING level or above (the level is the second word of a line). */
function warnings(output: string): string[] {
  return output.split("\n").filter((line) => /^\S+ +(WARN|WARNING|ERROR|FATAL)\b/.test(line));
}

test("KAFKA_BROKERS=localhost:9092 deno task produce: the events land, no warning", async () => {
  const topic = uniqueName("first_produce");
  const run = await task(["produce", "--topic", topic, "--count", "5", "--rate", "0"], {
    KAFKA_BROKERS: "localhost:9092",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /Stopped: 5 events delivered/);
  assert.deepEqual(warnings(run.stderr), []);
  assert.equal((await readTopic(topic)).length, 5);
});

test("KAFKA_BROKERS=localhost:9092 METRICS_PORT=<port> deno task consume: stores, serves /metrics, no warning", async () => {
  const id = uniqueName("first");
  const names = { topic: `consume_${id}`, group: `group_${id}`, table: `consume_${id}` };
  const port = freePort();
  const metrics = { answered: false };
  const consuming = task([
    "consume",
    "--topic",
    names.topic,
    "--group",
    names.group,
    "--table",
    names.table,
    "--exit-when-idle",
    "4",
  ], { KAFKA_BROKERS: "localhost:9092", METRICS_PORT: String(port) });
  // Started together, as `deno task start` does: both create the new topic.
  const produced = await task(["produce", "--topic", names.topic, "--count", "7", "--rate", "0"]);
  assert.equal(produced.code, 0, produced.stderr);
  assert.deepEqual(warnings(produced.stderr), []);
  await waitFor(
    `/metrics on ${port}`,
    async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`);
        metrics.answered = response.ok && (await response.text()).includes("# TYPE");
      } catch {
        // not serving yet
      }
      return metrics.answered;
    },
    30_000,
    200,
  );
  const run = await consuming;
  assert.equal(run.code, 0, run.stderr);
  assert.ok(metrics.answered);
  assert.match(run.stderr, new RegExp(`Serving metrics on http://127\\.0\\.0\\.1:${port}/metrics`));
  assert.deepEqual(warnings(run.stderr), []);
  assert.equal((await tableRows(names.table)).length, 7);
});

test("DASHBOARD_PORT=<port> deno task dashboard answers /healthz there, no warning", async () => {
  const port = freePort();
  const id = uniqueName("first_dashboard");
  const child = new Deno.Command("deno", {
    args: ["task", "-q", "dashboard", "--topic", id, "--view", id],
    cwd: ROOT,
    env: { NO_COLOR: "1", DASHBOARD_PORT: String(port) },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    // Healthy means 200 and complete numbers: the new, empty topic read to its end.
    let health: { status: number; body: unknown } | undefined;
    await waitFor(
      `a live dashboard on ${port}`,
      async () => {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/healthz`);
          health = { status: response.status, body: await response.json() };
          return isRecord(health.body) && health.body.state === "live";
        } catch {
          return false;
        }
      },
      30_000,
      200,
    );
    assert.equal(health?.status, 200, JSON.stringify(health?.body));
    // And the view it creates answers.
    const viewSql = `SELECT COUNT(*) AS n FROM \`livecharts-local.music.${id}\``;
    await waitFor(
      "the top_songs view",
      () => query(warehouseFor(id), viewSql).then(() => true, () => false),
      30_000,
      200,
    );
  } finally {
    stop(child);
  }
  const status = await child.status;
  const output = await stderr;
  assert.equal(status.code, 0, output);
  assert.deepEqual(warnings(output), []);
});

test("an unreachable broker fails within 15 s with one line naming it", async () => {
  for (const script of ["produce", "consume", "dlq"]) {
    const run = await task([script], { KAFKA_BROKERS: "127.0.0.1:1" }, 30_000);
    assert.notEqual(run.code, 0, `${script}: ${run.stderr}`);
    assert.ok(run.ms < 15_000, `${script} took ${Math.round(run.ms)} ms`);
    const lines = run.stderr.trim().split("\n");
    assert.deepEqual(lines.length, 1, `${script}: ${run.stderr}`);
    assert.match(
      lines[0]!,
      /^error: Cannot reach Kafka at 127\.0\.0\.1:1 \(--brokers, KAFKA_BROKERS\): connection refused\. Check that the broker runs/,
    );
  }
});

test("an unreachable BigQuery stops the consumer at start with one line naming it", async () => {
  const run = await task(["consume"], { BIGQUERY_EMULATOR_HOST: "http://127.0.0.1:1" }, 30_000);
  assert.notEqual(run.code, 0, run.stderr);
  assert.ok(run.ms < 15_000, `took ${Math.round(run.ms)} ms`);
  assert.equal(
    run.stderr.trim(),
    "error: Cannot reach 127.0.0.1:1 (--emulator-host, BIGQUERY_EMULATOR_HOST): connection refused. " +
      "Check that the service runs ('deno task status' shows the local ones) and its address",
  );
});

test("bad configuration: every problem at once, each named, with an example", async () => {
  const run = await task(["produce", "--rate", "-1", "--colour", "red"], {
    KAFKA_BROKERS: "localhost",
    KAFKA_PARTITIONS: "0",
  });
  assert.equal(run.code, 2, run.stderr);
  assert.deepEqual(run.stderr.trim().split("\n"), [
    "error: Unknown flag --colour (see --help)",
    `error: Invalid --brokers (KAFKA_BROKERS): must be host:port pairs separated by commas, got "localhost" (for example KAFKA_BROKERS=127.0.0.1:9092)`,
    "error: Invalid --rate: must be at least 0, got -1 (for example --rate 5)",
    "error: Invalid --partitions (KAFKA_PARTITIONS): must be between 1 and 10000, got 0 (for example KAFKA_PARTITIONS=3)",
  ]);
});

test("--print-permissions shows the grants that follow the configuration, and exits 0", async () => {
  const run = await task(["consume", "--print-permissions", "--log-file", "/tmp/consumer.log"], {
    KAFKA_BROKERS: "localhost:9092",
    METRICS_PORT: "19464",
    KAFKA_SASL_MECHANISM: "plain",
    KAFKA_SASL_USERNAME: "someone",
    KAFKA_SASL_PASSWORD: "do-not-show-me",
  });
  assert.equal(run.code, 0, run.stderr);
  const net = /--allow-net=(\S+)/.exec(run.stdout)?.[1]?.split(",") ?? [];
  for (const address of ["localhost:9092", "127.0.0.1:9092", "127.0.0.1:9050", "127.0.0.1:19464"]) {
    assert.ok(net.includes(address), `${address} in ${net}`);
  }
  assert.match(run.stdout, /--allow-write=\/tmp\/consumer\.log/);
  assert.match(run.stdout, /--allow-env=\S*KAFKA_BROKERS,/);
  assert.match(run.stdout, /^# Kafka.s advertised brokers unknown: /m, "the note says why");
  assert.match(run.stdout, /^deno run \\\n {2}--no-prompt \\\n/m);
  assert.match(run.stdout, / {2}consumer\.ts --log-file \/tmp\/consumer\.log\n$/);
  assert.ok(!run.stdout.includes("do-not-show-me") && !run.stderr.includes("do-not-show-me"));
});

test("two scripts creating the same topic at once both go on; one of them created it", async () => {
  const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "livecharts-tests" });
  const topic = uniqueName("race");
  const created = await Promise.all([ensureTopic(kafka, topic, 3), ensureTopic(kafka, topic, 3)]);
  assert.equal(created.filter(Boolean).length, 1, String(created));
});

test("deno task start: services, consumer, dashboard and producer start without a warning", async () => {
  const id = uniqueName("first_start");
  const port = freePort();
  const child = new Deno.Command("deno", {
    args: ["task", "-q", "start", "--rate", "50"],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      KAFKA_TOPIC: id,
      KAFKA_GROUP: id,
      BIGQUERY_TABLE: id,
      BIGQUERY_VIEW: `${id}_view`,
      DASHBOARD_PORT: String(port),
      METRICS_PORT: "0",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  try {
    await waitFor(
      "plays stored by the consumer",
      async () => {
        try {
          return (await tableRows(id)).length >= 50;
        } catch {
          return false; // the table is not there yet
        }
      },
      90_000,
      1_000,
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    await health.body?.cancel();
    assert.ok(health.status === 200 || health.status === 503, `dashboard: ${health.status}`);
  } catch (error) {
    stop(child);
    throw new Error(`${error}\n${await stdout}${await stderr}`);
  }
  stop(child);
  const status = await child.status;
  const output = (await stdout) + (await stderr);
  assert.equal(status.code, 0, output);
  assert.match(
    output,
    /kafka: (already running|started|a broker not started from .* already answers)/,
  );
  assert.match(output, /Stopped\. The services are still up/);
  assert.deepEqual(warnings(output.replaceAll(/^\[\w+\] /gm, "")), []);
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
