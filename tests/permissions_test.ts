import assert from "node:assert/strict";
import { planLaunch, scriptOptions } from "../shared/cli/launch.ts";
import {
  addressesOf,
  grantFlags,
  hostPort,
  optionNeeds,
  withResolved,
} from "../shared/cli/permissions.ts";
import { LAUNCHER, runArgs, taskCommand } from "../shared/cli/tasks.ts";
import { mergePermissions } from "./support/permissions.ts";

const TASK = [
  "run",
  "--allow-net=127.0.0.1:9092,127.0.0.1:9050",
  "--allow-env=A,B",
  "consumer.ts",
  "--topic",
  "t",
];

Deno.test("mergePermissions() appends to a task's lists without duplicates", () => {
  assert.deepEqual(
    mergePermissions(TASK, ["--allow-net=127.0.0.1:9094,127.0.0.1:9092", "--allow-env=C"]),
    [
      "run",
      "--allow-net=127.0.0.1:9092,127.0.0.1:9050,127.0.0.1:9094",
      "--allow-env=A,B,C",
      "consumer.ts",
      "--topic",
      "t",
    ],
  );
});

Deno.test("mergePermissions() adds new flags before the script, never after", () => {
  assert.deepEqual(mergePermissions(TASK, ["--allow-read=/tmp/ca.pem", "--allow-read=/x"]), [
    "run",
    "--allow-net=127.0.0.1:9092,127.0.0.1:9050",
    "--allow-env=A,B",
    "--allow-read=/tmp/ca.pem,/x",
    "consumer.ts",
    "--topic",
    "t",
  ]);
  assert.deepEqual(mergePermissions(TASK, []), TASK);
});

Deno.test("mergePermissions() widens a list to a full grant and keeps a full grant", () => {
  assert.deepEqual(mergePermissions(TASK, ["--allow-env"])[2], "--allow-env");
  const full = ["run", "--allow-net", "producer.ts"];
  assert.deepEqual(mergePermissions(full, ["--allow-net=127.0.0.1:9094"]), full);
});

Deno.test("mergePermissions() rejects what it cannot merge", () => {
  assert.throws(() => mergePermissions(TASK, ["--deny-net=x"]), {
    message: /^Cannot merge "--deny-net=x": expected --allow-<name>/,
  });
  assert.throws(() => mergePermissions(["task", "x.ts"], []), {
    message: /^Cannot merge permissions: expected 'run \.\.\. <script>'/,
  });
});

// Grants that follow configuration (shared/cli/permissions.ts, launch.ts).

const ROOT = new URL("../", import.meta.url);

/** The computed `deno run` arguments of `words` (`[deno flags] script [args]`), without probes. */
async function planned(words: string[], env: Record<string, string> = {}): Promise<string[]> {
  return (await planLaunch(words, { root: ROOT, env, probe: false })).runArgs;
}

/** The list of grant `flag` in `args` (empty when absent). */
function granted(args: readonly string[], flag: string): string[] {
  const arg = args.find((item) => item.startsWith(`${flag}=`));
  return arg === undefined ? [] : arg.slice(flag.length + 1).split(",");
}

Deno.test("every script task runs through the launcher; start keeps its fixed grants", async () => {
  const config: unknown = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const name of ["produce", "consume", "dashboard", "dlq"]) {
    const args = runArgs(config, name);
    assert.deepEqual(args.slice(0, 6), [
      "run",
      "--allow-env",
      "--allow-net",
      "--allow-read",
      "--allow-run=deno",
      LAUNCHER,
    ]);
  }
  assert.deepEqual(runArgs(config, "start"), [
    "run",
    "--allow-run=bash,deno",
    "--allow-read=deno.json",
    "--allow-env=DASHBOARD_HOST,DASHBOARD_PORT",
    "start.ts",
  ]);
});

Deno.test("planLaunch() grants the defaults exactly what the local stack needs", async () => {
  assert.deepEqual(await planned(["--no-prompt", "producer.ts"]), [
    "run",
    "--no-prompt",
    "--allow-net=127.0.0.1:9092",
    "--allow-read=producer.log",
    "--allow-write=producer.log",
    `--allow-env=${
      [
        "KAFKA_BROKERS",
        "KAFKA_TOPIC",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL",
        "KAFKA_SSL_CA",
        "KAFKA_SSL_REJECT_UNAUTHORIZED",
        "KAFKA_PARTITIONS",
        "LOG_LEVEL",
        "LIVECHARTS_PROGRESS_MS",
        "NODE_ENV",
        "KAFKAJS_LOG_LEVEL",
        "KAFKAJS_NO_PARTITIONER_WARNING",
        "KAFKAJS_DEBUG_PROTOCOL_BUFFERS",
        "KAFKAJS_DEBUG_EXTENDED_PROTOCOL_BUFFERS",
      ].join(",")
    }`,
    "producer.ts",
  ]);
  const consumer = await planned(["consumer.ts"]);
  // Kafka, the local BigQuery's REST (and Storage Write API, once the
  // consumer writes through it) and the metrics port: nothing else.
  const net = granted(consumer, "--allow-net");
  for (const address of ["127.0.0.1:9092", "127.0.0.1:9050", "127.0.0.1:9464"]) {
    assert.ok(net.includes(address), `${address} in ${net}`);
  }
  const local = ["127.0.0.1:9092", "127.0.0.1:9050", "127.0.0.1:9060", "127.0.0.1:9464"];
  assert.deepEqual(net.filter((address) => !local.includes(address)), []);
  assert.deepEqual(granted(consumer, "--allow-read"), []);
  assert.ok(granted(consumer, "--allow-env").includes("GOOGLE_SDK_NODE_LOGGING"));
});

Deno.test("planLaunch() follows the brokers, ports, files and names of flags and variables", async () => {
  const consumer = await planned(
    ["--no-prompt", "consumer.ts", "--metrics-port", "0", "--log-file", "/tmp/c.log"],
    {
      KAFKA_BROKERS: "localhost:9092,10.1.2.3:9093",
      KAFKA_SSL_CA: "/etc/kafka/ca.pem",
      BIGQUERY_EMULATOR_HOST: "http://127.0.0.1:19050",
      METRICS_HOST: "0.0.0.0",
    },
  );
  const net = granted(consumer, "--allow-net");
  for (
    const address of [
      "localhost:9092",
      "127.0.0.1:9092",
      "10.1.2.3:9093",
      "127.0.0.1:19050",
      "0.0.0.0:0",
    ]
  ) {
    assert.ok(net.includes(address), `${address} in ${net}`);
  }
  assert.ok(!net.includes("127.0.0.1:9050"), "the default emulator is not granted");
  assert.deepEqual(granted(consumer, "--allow-read"), ["/etc/kafka/ca.pem", "/tmp/c.log"]);
  assert.deepEqual(granted(consumer, "--allow-write"), ["/tmp/c.log"]);

  const dashboard = await planned(["--allow-read=web", "dashboard.ts", "--port", "18080"], {
    DASHBOARD_HOST: "localhost",
  });
  assert.ok(granted(dashboard, "--allow-net").includes("localhost:18080"));
  assert.ok(granted(dashboard, "--allow-net").includes("127.0.0.1:18080"));
  assert.deepEqual(granted(dashboard, "--allow-read"), ["web"]);
});

Deno.test("planLaunch() grants Google's hosts and the key file with real credentials", async () => {
  const consumer = await planned(["consumer.ts"], {
    GOOGLE_APPLICATION_CREDENTIALS: "/secrets/key.json",
  });
  const net = granted(consumer, "--allow-net");
  assert.ok(net.includes("bigquery.googleapis.com:443"), String(net));
  assert.ok(!net.includes("127.0.0.1:9050"), "no emulator");
  assert.deepEqual(granted(consumer, "--allow-read"), ["/secrets/key.json"]);
  assert.ok(granted(consumer, "--allow-env").includes("GOOGLE_CLOUD_PROJECT"));
});

Deno.test("planLaunch() keeps the script's arguments and reports bad ones without grants", async () => {
  const plan = await planLaunch(
    ["producer.ts", "--count", "3", "--print-permissions"],
    { root: ROOT, probe: false },
  );
  assert.deepEqual([plan.args, plan.printOnly], [["--count", "3"], true]);
  const bad = await planLaunch(["producer.ts", "--count", "x"], { root: ROOT, probe: false });
  assert.equal(
    bad.problems,
    `error: Invalid --count: must be an integer, got "x" (for example --count 0)`,
  );
  assert.deepEqual(granted(bad.runArgs, "--allow-net"), []);
  assert.ok(granted(bad.runArgs, "--allow-env").includes("KAFKA_BROKERS"));
  const help = await planLaunch(["dlq.ts", "--help"], { root: ROOT, probe: false });
  assert.equal(help.problems, undefined);
  assert.deepEqual(granted(help.runArgs, "--allow-net"), []);
});

Deno.test("planLaunch() stops on a broker that does not answer, and learns the advertised ones", async () => {
  const down = await planLaunch(["dlq.ts"], { root: ROOT, env: { KAFKA_BROKERS: "127.0.0.1:1" } });
  assert.equal(down.unreachable.length, 1);
  assert.match(down.unreachable[0]!, /^Cannot reach Kafka at 127\.0\.0\.1:1 .*connection refused/);
  const up = await planLaunch(["dlq.ts"], { root: ROOT, env: { KAFKA_BROKERS: "localhost:9092" } });
  assert.deepEqual(up.unreachable, []);
  assert.deepEqual(up.notes, ["Kafka at localhost:9092 advertises 127.0.0.1:9092"]);
});

Deno.test("a task's script option table is found, or the launcher says why not", async () => {
  assert.ok("brokers" in await scriptOptions(new URL("producer.ts", ROOT)));
  await assert.rejects(() => scriptOptions(new URL("start.ts", ROOT)), {
    message: /does not export its option table as 'options'/,
  });
});

Deno.test("withResolved() adds the addresses the system resolver gives for a name", async () => {
  const addresses = await withResolved(["localhost:9092"]);
  assert.equal(addresses[0], "localhost:9092");
  assert.ok(addresses.includes("127.0.0.1:9092"), String(addresses));
});

Deno.test("optionNeeds() pairs a port with its host and reads the help default of an unset port", () => {
  const needs = optionNeeds({
    metricsHost: { flag: "metrics-host", help: "", arg: "HOST", fallback: "::1", parse: String },
    metricsPort: {
      flag: "metrics-port",
      help: "",
      arg: "PORT",
      fallback: undefined,
      fallbackHelp: "9464",
      parse: Number,
    },
  }, { metricsHost: "::1", metricsPort: undefined });
  assert.deepEqual(needs.listen, ["[::1]:9464"]);
  assert.deepEqual(addressesOf("http://[::1]:9050"), ["[::1]:9050"]);
  assert.equal(hostPort("::1", 80), "[::1]:80");
});

Deno.test("grantFlags() merges a task's list with the computed one", () => {
  assert.deepEqual(
    grantFlags({ net: ["a:1", "a:1"], read: [], write: ["x"], env: [] }, ["--allow-net=b:2"]),
    ["--allow-net=b:2,a:1", "--allow-write=x"],
  );
  assert.deepEqual(grantFlags({ net: ["a:1"], read: [], write: [], env: [] }, ["--allow-net"]), [
    "--allow-net",
  ]);
});

Deno.test("taskCommand() plans a launcher task in a launcher process, with the caller's variables", async () => {
  const { runArgs: args, args: scriptArgs } = await taskCommand(ROOT, "produce", [
    "--count",
    "2",
    "--print-permissions",
  ], { KAFKA_BROKERS: "localhost:9092", NO_COLOR: "1" });
  assert.equal(args.at(-1), "producer.ts");
  assert.ok(granted(args, "--allow-net").includes("localhost:9092"), String(args));
  assert.deepEqual(scriptArgs, ["--count", "2"]);
  const plain = await taskCommand(ROOT, "start", ["--no-up"]);
  assert.deepEqual(plain.args, ["--no-up"]);
  assert.equal(plain.runArgs.at(-1), "start.ts");
});
