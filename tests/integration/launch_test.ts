/**
 * The launcher's grants where it resolves names, probes brokers or runs a
 * planning process: these need the network and `deno`, so they are not unit
 * tests (`tests/unit/permissions_test.ts` holds the pure ones).
 */
import assert from "node:assert/strict";
import { granted, planned, ROOT } from "../support/planned.ts";
import { test } from "../support/integration.ts";
import { startMetadataStandIn } from "../support/kafka_metadata_standin.ts";
import { planLaunch } from "../../shared/launch/launch.ts";
import { withResolved } from "../../shared/launch/permissions.ts";
import { spawnCommand, spawnTask, taskCommand } from "../../shared/launch/tasks.ts";
import { moduleGraph, runCommand } from "../support/command.ts";

test("planLaunch() follows the brokers, ports, files and names of flags and variables", async () => {
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
  // Its start record (crash back-off) lives in --state-dir.
  assert.deepEqual(granted(dashboard, "--allow-read"), ["web", ".state"]);
  assert.deepEqual(granted(dashboard, "--allow-write"), [".state"]);

  // Beyond loopback, its HTTP socket too (behind the front door), granted by its absolute
  // path and no other Unix socket.
  const exposed = await planned(["--allow-read=web", "dashboard.ts", "--port", "18080"], {
    DASHBOARD_HOST: "0.0.0.0",
  });
  const socket = ".state/http-18080.sock";
  assert.deepEqual(granted(exposed, "--allow-read"), ["web", ".state", socket]);
  assert.deepEqual(granted(exposed, "--allow-write"), [".state", socket]);
  const unix = granted(exposed, "--allow-net").filter((grant) => grant.startsWith("unix:"));
  assert.deepEqual(unix, [`unix:${Deno.cwd()}/${socket}`]);
});

test("planLaunch() stops on a broker that does not answer, and learns the advertised ones", async () => {
  const down = await planLaunch(["dlq.ts"], { root: ROOT, env: { KAFKA_BROKERS: "127.0.0.1:1" } });
  assert.equal(down.unreachable.length, 1);
  assert.match(down.unreachable[0]!, /^Cannot reach Kafka at 127\.0\.0\.1:1 .*connection refused/);
  const up = await planLaunch(["dlq.ts"], { root: ROOT, env: { KAFKA_BROKERS: "localhost:9092" } });
  assert.deepEqual(up.unreachable, []);
  assert.deepEqual(up.notes, ["Kafka at localhost:9092 advertises 127.0.0.1:9092"]);
});

test("withResolved() adds the addresses the system resolver gives for a name", async () => {
  const addresses = await withResolved(["localhost:9092"]);
  assert.equal(addresses[0], "localhost:9092");
  assert.ok(addresses.includes("127.0.0.1:9092"), String(addresses));
});

test("taskCommand() plans a launcher task in a launcher process, with the caller's variables", async () => {
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
  assert.deepEqual(plain.env, {});
  // The dashboard's task sets glibc's allocator to map large buffers on their own
  // (see the README's Dashboard section); its planned run carries that.
  const dashboard = await taskCommand(ROOT, "dashboard", ["--print-permissions"]);
  assert.deepEqual(dashboard.env, { MALLOC_MMAP_THRESHOLD_: "131072" });
});

test("spawnCommand() reads a process's stdout and stderr line by line", async () => {
  const child = spawnCommand("deno", ["eval", "console.log('one'); console.error('two')"]);
  const { code, lines } = await child.done;
  assert.equal(code, 0);
  assert.deepEqual(lines.map((line) => line.text).sort(), ["one", "two"]);
  assert.equal(child.output("stdout"), "one\n");
});

test("spawnTask() gives the script the variables its task sets, as deno task does", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${root}/deno.json`,
      '{ "tasks": { "hello": "GREETING=hi deno run --allow-env=GREETING hello.ts" } }',
    );
    await Deno.writeTextFile(
      `${root}/hello.ts`,
      "console.log(`${Deno.env.get('GREETING')} ${Deno.args[0]}`);",
    );
    const url = new URL(`file://${root}/`);
    const child = await spawnTask("hello", ["world"], { root: url });
    assert.equal((await child.done).code, 0);
    assert.equal(child.output("stdout"), "hi world\n");
    // The caller's own variables come on top.
    const other = await spawnTask("hello", ["world"], { root: url, env: { GREETING: "hey" } });
    assert.equal((await other.done).code, 0);
    assert.equal(other.output("stdout"), "hey world\n");
    // The same task through deno task itself.
    const { stdout } = await new Deno.Command("deno", {
      args: ["task", "-q", "hello", "world"],
      cwd: root,
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(new TextDecoder().decode(stdout), "hi world\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

test("spawnTask() runs a deno.json task's script with its arguments", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${root}/deno.json`, '{ "tasks": { "hello": "deno run hello.ts" } }');
    await Deno.writeTextFile(`${root}/hello.ts`, "console.log(`hello ${Deno.args[0]}`);");
    const child = await spawnTask("hello", ["world"], { root: new URL(`file://${root}/`) });
    assert.equal((await child.done).code, 0);
    assert.equal(child.output("stdout"), "hello world\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Runs `deno task TASK ARGS` as a user types it, with `env` on top of this process's. */
function task(name: string, args: string[], env: Record<string, string> = {}) {
  return runCommand("deno", ["task", "--quiet", name, ...args], { NO_COLOR: "1", ...env });
}

test("the launcher's module graph holds no npm package: no library code runs with its grants", async () => {
  const specifiers = await moduleGraph("shared/launch/launch.ts");
  assert.ok(specifiers.some((specifier) => specifier.endsWith("/shared/tables/mod.ts")));
  assert.deepEqual(specifiers.filter((specifier) => specifier.startsWith("npm:")), []);
  assert.deepEqual(
    specifiers.filter((specifier) => !/^(file:|node:)/.test(specifier)),
    [],
    "only our files and Deno's node: modules",
  );
});

test("deno task refuses a configured value that would widen a grant, naming it", async () => {
  const ca = await task("produce", ["--print-permissions"], { KAFKA_SSL_CA: "ca.pem,/home" });
  assert.equal(ca.code, 2, ca.stderr);
  assert.match(
    ca.stderr,
    /error: Invalid --ssl-ca \(KAFKA_SSL_CA\): must be one path without commas .*"ca\.pem,\/home"/,
  );
  assert.ok(!ca.stdout.includes("/home"), ca.stdout);
  const emulator = await task("consume", ["--print-permissions"], {
    BIGQUERY_EMULATOR_HOST: "http://evil.example,x:9050",
  });
  assert.equal(emulator.code, 2, emulator.stderr);
  assert.match(
    emulator.stderr,
    /Invalid --emulator-host \(BIGQUERY_EMULATOR_HOST\): must be one host:port/,
  );
  assert.ok(!emulator.stdout.includes("evil.example"), emulator.stdout);
});

test("--print-permissions shows a SASL password given as a flag as ***", async () => {
  const shown = await task("produce", [
    "--sasl-mechanism",
    "plain",
    "--sasl-username",
    "u",
    "--sasl-password",
    "pw-9f3b2-never-shown",
    "--print-permissions",
  ]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /--sasl-password '\*\*\*'/);
  assert.ok(!(shown.stdout + shown.stderr).includes("pw-9f3b2"), shown.stdout);
});

test("the launcher grants the brokers a cluster advertises under the configured host", async () => {
  const single = await task("dlq", ["--print-permissions"], { KAFKA_BROKERS: "localhost:9092" });
  assert.equal(single.code, 0, single.stderr);
  assert.match(single.stdout, /# Kafka at localhost:9092 advertises 127\.0\.0\.1:9092/);
  assert.match(single.stdout, /--allow-net=localhost:9092,127\.0\.0\.1:9092/);
  assert.ok(!single.stdout.includes("not granted"), single.stdout);
});

test("deno task consume refuses the crash failpoint with real BigQuery credentials", async () => {
  const run = await task("consume", [], {
    LIVECHARTS_TEST_CRASH_AFTER_APPENDS: "1",
    GOOGLE_APPLICATION_CREDENTIALS: "/nonexistent/key.json",
  });
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /error: LIVECHARTS_TEST_CRASH_AFTER_APPENDS .*refusing to run it with real BigQuery/,
  );
  const help = await task("consume", ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.ok(!help.stdout.includes("test-crash"), help.stdout);
});

test("the launcher does not grant a host a broker advertises outside its domain, unless listed", async () => {
  const standIn = startMetadataStandIn(["self", "evil.example:9092"]);
  try {
    const env = { KAFKA_BROKERS: standIn.address };
    // The probe asks for metadata again through the configured broker, never
    // through an advertised one it is not granted: one answer is enough.
    const refused = await task("dlq", ["--print-permissions"], env);
    assert.ok(!/--allow-net=[^\n]*evil\.example/.test(refused.stdout), refused.stdout);
    assert.equal(refused.code, 0, refused.stderr);
    assert.match(
      refused.stdout,
      new RegExp(
        `# Kafka at ${standIn.address} advertises evil\\.example:9092, outside the configured ` +
          `brokers' domain: not granted`,
      ),
    );
    assert.match(refused.stdout, new RegExp(`--allow-net=${standIn.address}( |\\\\|$)`, "m"));
    assert.ok(!/--allow-net=[^\n]*evil\.example/.test(refused.stdout), refused.stdout);

    const listed = await task(
      "dlq",
      ["--allow-advertised", "evil.example", "--print-permissions"],
      env,
    );
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`--allow-net=${standIn.address},evil\\.example:9092`));
  } finally {
    standIn.close();
  }
});
