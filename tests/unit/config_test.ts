// The option tables of Kafka (shared/kafka/options.ts) and BigQuery
// (shared/bigquery/options.ts), parsed together as the consumer does.

import assert from "node:assert/strict";
import { bigqueryOptions, httpUrl, loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { formatHelp, type Option, OptionError, parseOptions } from "../../shared/cli/options.ts";
import {
  brokerList,
  groupOptions,
  kafkaOptions,
  loadKafkaConfig,
} from "../../shared/kafka/options.ts";

/** Kafka, group and BigQuery options from `args` and `env`. */
function loadConfig(args: readonly string[], env: Record<string, string | undefined>) {
  return parseOptions({ ...kafkaOptions, ...groupOptions, ...bigqueryOptions }, args, env);
}

function rejects(args: string[], env: Record<string, string>, message: string | RegExp): void {
  assert.throws(() => loadConfig(args, env), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("loadConfig() defaults to the local stack", () => {
  assert.deepEqual(loadConfig([], {}), {
    allowAdvertised: [],
    brokers: ["127.0.0.1:9092"],
    topic: "tony-allen-plays",
    saslMechanism: undefined,
    saslUsername: undefined,
    sessionTimeoutMs: 30_000,
    saslPassword: undefined,
    ssl: false,
    sslCa: undefined,
    sslRejectUnauthorized: true,
    group: "tony-allen-consumer",
    dlqTopic: "tony-allen-plays.dlq",
    project: "livecharts-local",
    dataset: "music",
    table: "plays",
    emulatorHost: "http://127.0.0.1:9050",
    credentials: undefined,
  });
});

Deno.test("loadConfig() prefers a flag to the environment to the default", () => {
  assert.equal(loadConfig([], {}).topic, "tony-allen-plays");
  assert.equal(loadConfig([], { KAFKA_TOPIC: "env-plays" }).topic, "env-plays");
  assert.equal(
    loadConfig(["--topic", "flag-plays"], { KAFKA_TOPIC: "env-plays" }).topic,
    "flag-plays",
  );
  assert.equal(loadConfig(["--topic=eq-plays"], { KAFKA_TOPIC: "env-plays" }).topic, "eq-plays");
  assert.equal(loadConfig(["--dataset", "a"], { BIGQUERY_DATASET: "b" }).dataset, "a");
  assert.equal(loadConfig([], { BIGQUERY_TABLE: "plays_v2" }).table, "plays_v2");
});

Deno.test("loadConfig() derives KAFKA_DLQ_TOPIC from the topic", () => {
  assert.equal(loadConfig([], { KAFKA_TOPIC: "plays" }).dlqTopic, "plays.dlq");
  assert.equal(loadConfig(["--topic", "p2"], { KAFKA_TOPIC: "plays" }).dlqTopic, "p2.dlq");
  assert.equal(loadConfig(["--topic", "p2"], { KAFKA_DLQ_TOPIC: "dead" }).dlqTopic, "dead");
  assert.equal(loadConfig(["--dlq-topic", "dead2"], { KAFKA_DLQ_TOPIC: "dead" }).dlqTopic, "dead2");
});

Deno.test("loadConfig() defaults BIGQUERY_EMULATOR_HOST only without credentials", () => {
  const cloud = loadConfig([], { GOOGLE_APPLICATION_CREDENTIALS: "/keys/sa.json" });
  assert.equal(cloud.credentials, "/keys/sa.json");
  assert.equal(cloud.emulatorHost, undefined);
  const viaFlag = loadConfig(["--credentials", "/keys/sa.json"], {});
  assert.equal(viaFlag.emulatorHost, undefined);
  // An explicit emulator host still wins over credentials.
  const both = loadConfig([], {
    GOOGLE_APPLICATION_CREDENTIALS: "/keys/sa.json",
    BIGQUERY_EMULATOR_HOST: "http://localhost:9999",
  });
  assert.equal(both.emulatorHost, "http://localhost:9999");
  // An empty variable is unset.
  assert.equal(
    loadConfig([], { GOOGLE_APPLICATION_CREDENTIALS: "" }).emulatorHost,
    "http://127.0.0.1:9050",
  );
});

Deno.test("loadConfig() normalizes the emulator URL to its origin", () => {
  assert.equal(
    loadConfig([], { BIGQUERY_EMULATOR_HOST: "http://bq:9050/some/path" }).emulatorHost,
    "http://bq:9050",
  );
});

Deno.test("loadConfig() rejects a bad emulator URL", () => {
  rejects(
    ["--emulator-host", "127.0.0.1:9050"],
    {},
    /^Invalid --emulator-host \(BIGQUERY_EMULATOR_HOST\): must be/,
  );
  rejects(
    [],
    { BIGQUERY_EMULATOR_HOST: "ftp://host:21" },
    `Invalid --emulator-host (BIGQUERY_EMULATOR_HOST): must be an http(s) URL, got "ftp://host:21"`,
  );
});

Deno.test("brokerList() accepts host:port lists", () => {
  assert.deepEqual(brokerList("localhost:9092"), ["localhost:9092"]);
  assert.deepEqual(brokerList(" a:1 , b.example.com:65535,[::1]:9092 "), [
    "a:1",
    "b.example.com:65535",
    "[::1]:9092",
  ]);
  assert.throws(() => brokerList("a:1,"), /without empty parts/);
});

Deno.test("brokerList() rejects malformed lists", () => {
  for (
    const broker of [
      "localhost",
      "a:0",
      "a:99999",
      "a:65536",
      ":9092",
      "a:b",
      "a b:1",
      "http://a:1",
    ]
  ) {
    assert.throws(() => brokerList(broker), {
      message: `must be host:port pairs separated by commas, got ${JSON.stringify(broker)}`,
    });
  }
  assert.throws(() => brokerList("a:1,localhost"), { message: /got "localhost"$/ });
  for (const raw of ["", " ", ",", " , "]) {
    assert.throws(() => brokerList(raw), {
      message: `must list at least one host:port, got ${JSON.stringify(raw)}`,
    });
  }
});

Deno.test("loadConfig() reports bad brokers by flag and variable", () => {
  rejects(
    [],
    { KAFKA_BROKERS: "localhost" },
    `Invalid --brokers (KAFKA_BROKERS): must be host:port pairs separated by commas, got "localhost"`,
  );
  rejects(
    ["--brokers=a:99999"],
    {},
    `Invalid --brokers (KAFKA_BROKERS): must be host:port pairs separated by commas, got "a:99999"`,
  );
  rejects(
    ["--brokers="],
    {},
    `Invalid --brokers (KAFKA_BROKERS): must list at least one host:port, got ""`,
  );
  // An empty variable is unset, not an empty list.
  assert.deepEqual(loadConfig([], { KAFKA_BROKERS: "" }).brokers, ["127.0.0.1:9092"]);
});

Deno.test("loadConfig() rejects bad names", () => {
  rejects(["--topic", "a b"], {}, /^Invalid --topic \(KAFKA_TOPIC\): must be a Kafka topic name/);
  rejects(["--topic", "t".repeat(250)], {}, /^Invalid --topic/);
  assert.equal(loadConfig(["--topic", "t".repeat(249)], {}).topic.length, 249);
  rejects(["--group", "my group"], {}, /^Invalid --group \(KAFKA_GROUP\)/);
  rejects(["--dataset", "1music"], {}, /^Invalid --dataset \(BIGQUERY_DATASET\)/);
  rejects(["--table", "my-plays"], {}, /^Invalid --table \(BIGQUERY_TABLE\)/);
  rejects(["--project", "Bad_Project"], {}, /^Invalid --project \(BIGQUERY_PROJECT\)/);
  rejects(["--project", "short"], {}, /^Invalid --project/);
});

Deno.test("loadKafkaConfig() and loadBigQueryConfig() parse their own options only", () => {
  assert.equal(loadKafkaConfig([], { KAFKA_TOPIC: "plays" }).dlqTopic, "plays.dlq");
  assert.equal(loadBigQueryConfig(["--table", "t2"], {}).table, "t2");
  assert.throws(() => loadKafkaConfig(["--table", "t2"], {}), OptionError);
  assert.throws(() => loadBigQueryConfig(["--topic", "p"], {}), OptionError);
});

Deno.test("loadConfig() rejects unknown flags and missing values", () => {
  rejects(["--brokerz", "a:1"], {}, "Unknown flag --brokerz (see --help)");
  rejects(["--topic"], {}, "Flag --topic needs a value NAME");
});

Deno.test("httpUrl() keeps only the origin", () => {
  assert.equal(httpUrl("https://bigquery.example.com/"), "https://bigquery.example.com");
  assert.throws(() => httpUrl("not a url"), { message: /must be a URL like/ });
});

Deno.test("help text lists each shared flag and variable", () => {
  const tables = { ...kafkaOptions, ...groupOptions, ...bigqueryOptions };
  const help = formatHelp("deno task consume [OPTIONS]", "Kafka to BigQuery.", tables);
  for (const option of Object.values(tables) as Option<unknown>[]) {
    assert.ok(help.includes(`--${option.flag}${option.arg ? ` ${option.arg}` : ""} `), option.flag);
    assert.ok(option.env !== undefined && help.includes(`[${option.env}]`), option.flag);
  }
  assert.ok(help.includes("(default: <topic>.dlq)"));
  assert.ok(help.includes("(default: 127.0.0.1:9092)"));
  assert.ok(help.includes("(default: http://127.0.0.1:9050 without credentials)"));
});
