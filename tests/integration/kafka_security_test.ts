// Integration tests of Kafka authentication (SASL PLAIN, SCRAM-SHA-256/512)
// and encryption (TLS) against a second, secured local broker
// (infra/secure_kafka.sh: SASL_PLAINTEXT 127.0.0.1:9094, SASL_SSL 127.0.0.1:9095).
// The broker is started here when it is not running, and stopped by the last
// test if this file started it. The shared broker on 9092 is not involved.
//
// The tasks grant loopback 9092 only; these runs add the secure ports (and
// the CA file) with the harness's `permissions`.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { runCommand } from "../support/command.ts";
import { secretForms } from "../../shared/ops/redact.ts";
import { consumerArgs, readTopic, runScript, tableRows, uniqueName } from "../support/harness.ts";

const ROOT = new URL("../../", import.meta.url);
const SASL_BROKER = "127.0.0.1:9094";
const SSL_BROKER = "127.0.0.1:9095";
const SASL_NET = `--allow-net=${SASL_BROKER}`;

/** The secured broker's credentials, from the file infra/secure_kafka.sh writes. */
interface SecureBroker {
  username: string;
  password: string;
  ca: string;
  startedHere: boolean;
}

async function secureKafka(
  action: "up" | "down" | "status",
): Promise<{ ok: boolean; output: string }> {
  const result = await runCommand("bash", ["infra/secure_kafka.sh", action]);
  return { ok: result.ok, output: result.stdout + result.stderr };
}

async function startBroker(): Promise<SecureBroker> {
  const running = (await secureKafka("status")).ok;
  if (!running) {
    const up = await secureKafka("up");
    assert.ok(up.ok, `infra/secure_kafka.sh up failed:\n${up.output}`);
  }
  const state = Deno.env.get("LIVECHARTS_STATE_DIR") ?? new URL(".state", ROOT).pathname;
  const file = await Deno.readTextFile(`${state}/kafka-secure/credentials.env`);
  const value = (name: string): string => {
    const match = new RegExp(`^${name}=(.+)$`, "m").exec(file);
    assert.ok(match?.[1], `${name} in credentials.env`);
    return match[1];
  };
  return {
    username: value("KAFKA_SASL_USERNAME"),
    password: value("KAFKA_SASL_PASSWORD"),
    ca: value("KAFKA_SSL_CA"),
    startedHere: !running,
  };
}

let broker: Promise<SecureBroker> | undefined;
function secureBroker(): Promise<SecureBroker> {
  broker ??= startBroker();
  return broker;
}

/** Asserts that no spelling of `secret` (raw, escaped, base64) is in `text`. */
function assertNoSecret(text: string, secret: string, where: string): void {
  for (const form of secretForms(secret)) {
    assert.ok(!text.includes(form), `${where} contains the password (as ${JSON.stringify(form)})`);
  }
}

function produceArgs(topic: string): string[] {
  return ["--topic", topic, "--count", "20", "--rate", "0", "--log-file", ""];
}

for (const mechanism of ["plain", "scram-sha-256", "SCRAM-SHA-512"]) {
  test(`producer authenticates with SASL ${mechanism} and its events read back`, async () => {
    const { username, password } = await secureBroker();
    const topic = uniqueName("sasl");
    const produced = await runScript("produce", produceArgs(topic), {
      env: {
        KAFKA_BROKERS: SASL_BROKER,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: username,
        KAFKA_SASL_PASSWORD: password,
      },
      permissions: [SASL_NET],
    });
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /Stopped: 20 events delivered/);

    const messages = await readTopic(topic, {
      brokers: [SASL_BROKER],
      saslMechanism: mechanism,
      saslUsername: username,
      saslPassword: password,
    });
    assert.equal(messages.length, 20);
  });
}

test("producer connects over SASL_SSL with the CA from KAFKA_SSL_CA", async () => {
  const { username, password, ca } = await secureBroker();
  const topic = uniqueName("sasl_ssl");
  const produced = await runScript(
    "produce",
    [...produceArgs(topic), "--sasl-username", username],
    {
      env: {
        KAFKA_BROKERS: SSL_BROKER,
        KAFKA_SASL_MECHANISM: "scram-sha-512",
        KAFKA_SASL_PASSWORD: password,
        KAFKA_SSL_CA: ca,
      },
      permissions: [`--allow-net=${SSL_BROKER}`, `--allow-read=${ca}`],
    },
  );
  assert.equal(produced.code, 0, produced.stderr);

  const messages = await readTopic(topic, {
    brokers: [SSL_BROKER],
    saslMechanism: "scram-sha-512",
    saslUsername: username,
    saslPassword: password,
    sslCa: ca,
  });
  assert.equal(messages.length, 20);
});

test("producer names an unreadable CA file and exits 1", async () => {
  const { username, password } = await secureBroker();
  const missing = "/nonexistent/livecharts-ca.pem";
  const produced = await runScript("produce", produceArgs(uniqueName("no_ca")), {
    env: {
      KAFKA_BROKERS: SSL_BROKER,
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: username,
      KAFKA_SASL_PASSWORD: password,
      KAFKA_SSL_CA: missing,
    },
    permissions: [`--allow-net=${SSL_BROKER}`, `--allow-read=${missing}`],
  });
  assert.equal(produced.code, 1, produced.stderr);
  assert.match(
    produced.stderr,
    /Cannot read the Kafka CA file "\/nonexistent\/livecharts-ca\.pem"/,
  );
});

test("producer fails fast on a wrong password without showing it", async () => {
  const { username } = await secureBroker();
  for (const mechanism of ["plain", "scram-sha-256"]) {
    const wrong = `wrong-${crypto.randomUUID()}`;
    const started = Date.now();
    const produced = await runScript("produce", produceArgs(uniqueName("denied")), {
      env: {
        KAFKA_BROKERS: SASL_BROKER,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: username,
        KAFKA_SASL_PASSWORD: wrong,
        LOG_LEVEL: "debug",
      },
      permissions: [SASL_NET],
      timeoutMs: 30_000,
    });
    assert.equal(produced.code, 1, produced.stderr);
    assert.match(
      produced.stderr,
      /FATAL +livecharts\.producer: Producer failed: SASL .*authentication failed/,
    );
    assert.ok(Date.now() - started < 15_000, "no retries on an authentication error");
    assertNoSecret(produced.stderr + produced.stdout, wrong, `${mechanism} output`);
  }
});

test("no output or log of a verbose producer and consumer shows the SASL password", async () => {
  const { username, password } = await secureBroker();
  const id = uniqueName("t");
  const names = { topic: `secret_${id}`, group: `group_${id}`, table: `secret_${id}` };
  const env = {
    KAFKA_BROKERS: SASL_BROKER,
    KAFKA_SASL_MECHANISM: "plain", // the mechanism that sends the password itself
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: password,
    // As verbose as it gets: every kafkajs entry, protocol buffers included.
    LOG_LEVEL: "trace",
    KAFKAJS_LOG_LEVEL: "debug",
    KAFKAJS_DEBUG_PROTOCOL_BUFFERS: "1",
  };
  const logFile = new URL("producer.log", ROOT); // the one file the produce task may write
  const logStart = await Deno.stat(logFile).then((info) => info.size, () => 0);

  const help = await runScript("produce", ["--help"], { env });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--sasl-password SECRET/);

  const produced = await runScript("produce", [
    "--topic",
    names.topic,
    "--count",
    "20",
    "--rate",
    "0",
  ], {
    env,
    permissions: [SASL_NET],
  });
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await runScript("consume", consumerArgs(names, ["--exit-when-idle", "2"]), {
    env,
    permissions: [SASL_NET],
  });
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal((await tableRows(names.table)).length, 20);

  const log = new TextDecoder().decode((await Deno.readFile(logFile)).subarray(logStart));
  // The runs really were verbose, SASL exchange included.
  assert.match(produced.stderr, /TRACE +livecharts\.kafka: .*SASL PLAIN/);
  assert.match(consumed.stderr, /TRACE +livecharts\.kafka: .*SASL PLAIN/);
  assert.match(log, /Delivered \d+ events/);
  for (
    const [where, text] of [
      ["--help", help.stdout + help.stderr],
      ["producer output", produced.stdout + produced.stderr],
      ["producer.log", log],
      ["consumer output", consumed.stdout + consumed.stderr],
    ]
  ) {
    assertNoSecret(text!, password, where!);
  }
});

// The secured broker is stopped after the file's tests if they started it.
Deno.test.afterAll(async () => {
  if (broker === undefined) return; // no test needed it (filtered run)
  const { startedHere } = await broker;
  if (!startedHere) return;
  const down = await secureKafka("down");
  if (!down.ok) throw new Error(`infra/secure_kafka.sh down failed:\n${down.output}`);
});
