import assert from "node:assert/strict";
import { granted, planned, ROOT } from "../support/planned.ts";
import { formatCommand, planLaunch, scriptOptions } from "../../shared/launch/launch.ts";
import { addressesOf, grantFlags, hostPort, optionNeeds } from "../../shared/launch/permissions.ts";
import { LAUNCHER, runArgs } from "../../shared/launch/tasks.ts";
import { mergePermissions } from "../support/permissions.ts";

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

// Grants that follow configuration (shared/launch/permissions.ts, launch.ts).

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
        "KAFKA_ALLOW_ADVERTISED",
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

Deno.test("a task's script option table is found, or the launcher says why not", () => {
  assert.ok("brokers" in scriptOptions("producer.ts"));
  assert.ok("brokers" in scriptOptions("./dlq.ts"));
  assert.throws(() => scriptOptions("shared/schema.ts"), {
    message: /shared\/schema\.ts: it has no option table in shared\/tables\/mod\.ts/,
  });
});

Deno.test("planLaunch() refuses a value that would widen a grant: commas, newlines, empty parts", async () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "producer.ts",
      { KAFKA_SSL_CA: "ca.pem,/home" },
      /Invalid --ssl-ca \(KAFKA_SSL_CA\): must be one path without commas/,
    ],
    ["producer.ts", { KAFKA_SSL_CA: "ca.pem\n/home" }, /Invalid --ssl-ca .*control characters/],
    [
      "consumer.ts",
      { BIGQUERY_EMULATOR_HOST: "http://evil.example,x:9050" },
      /Invalid --emulator-host \(BIGQUERY_EMULATOR_HOST\): must be one host:port/,
    ],
    [
      "consumer.ts",
      { GOOGLE_APPLICATION_CREDENTIALS: "key.json,/etc" },
      /Invalid --credentials .*one path without commas/,
    ],
    [
      "consumer.ts",
      { KAFKA_BROKERS: "127.0.0.1:9092,,127.0.0.1:9093" },
      /Invalid --brokers .*without empty parts/,
    ],
    [
      "producer.ts",
      { KAFKA_BROKERS: "127.0.0.1:9092," },
      /Invalid --brokers .*without empty parts/,
    ],
  ];
  for (const [script, env, message] of cases) {
    const plan = await planLaunch([script], { root: ROOT, env, probe: false });
    assert.match(plan.problems ?? "", message, JSON.stringify(env));
    const words = plan.runArgs.join(" ");
    for (const widened of ["/home", "/etc", "evil.example", "x:9050"]) {
      assert.ok(!words.includes(widened), `${widened} granted: ${words}`);
    }
  }
});

Deno.test("planLaunch() shows a secret given as a flag as *** in the printed command", async () => {
  const plan = await planLaunch(
    [
      "producer.ts",
      "--sasl-password",
      "hunter2-secret",
      "--sasl-password=hunter2-secret",
      "--print-permissions",
    ],
    { root: ROOT, probe: false },
  );
  assert.deepEqual(plan.args, [
    "--sasl-password",
    "hunter2-secret",
    "--sasl-password=hunter2-secret",
  ]);
  assert.deepEqual(plan.shownArgs, ["--sasl-password", "***", "--sasl-password=***"]);
  assert.ok(!formatCommand(plan).includes("hunter2"), formatCommand(plan));
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
