/**
 * Kafka's command-line options: where the brokers are, how to authenticate,
 * which topic, group and dead-letter topic. Every value comes from a flag or
 * an environment variable (flags win) and is validated once, here.
 *
 * @module
 */

import {
  boolean,
  integer,
  type Option,
  optional,
  parseOptions,
  type RawValues,
  text,
  type Values,
} from "../cli/mod.ts";

/** A Kafka topic name: 1 to 249 letters, digits, `.`, `_` or `-`. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * Parses a Kafka topic name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicName } from "./options.ts";
 * assert.equal(topicName("plays.dlq"), "plays.dlq");
 * assert.throws(() => topicName("plays/dlq"), /must be a Kafka topic name/);
 * ```
 */
export const topicName: (raw: string) => string = text(
  TOPIC_NAME,
  "a Kafka topic name ([A-Za-z0-9._-], up to 249)",
);

/**
 * `host:port` pairs separated by commas.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { brokerList } from "./options.ts";
 * assert.deepEqual(brokerList("a:9092, b:9092"), ["a:9092", "b:9092"]);
 * assert.throws(() => brokerList("a:9092,,b:9092"), /without empty parts/);
 * ```
 */
export function brokerList(raw: string): string[] {
  const brokers = raw.split(",").map((part) => part.trim());
  if (brokers.every((part) => part === "")) {
    throw new Error(`must list at least one host:port, got ${JSON.stringify(raw)}`);
  }
  if (brokers.includes("")) {
    throw new Error(`must be host:port pairs without empty parts, got ${JSON.stringify(raw)}`);
  }
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(broker);
    const port = match ? Number(match[2]) : 0;
    if (match === null || port < 1 || port > 65535) {
      throw new Error(
        `must be host:port pairs separated by commas, got ${JSON.stringify(broker)}`,
      );
    }
  }
  return brokers;
}

/**
 * Host names (or `*.domain`) separated by commas, for `--allow-advertised`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { advertisedHosts } from "./options.ts";
 * assert.deepEqual(advertisedHosts("b1.example.com, *.kafka.internal"), ["b1.example.com", "*.kafka.internal"]);
 * assert.throws(() => advertisedHosts("a,,b"), /empty/);
 * ```
 */
export function advertisedHosts(raw: string): string[] {
  if (raw.trim() === "") return [];
  const hosts = raw.split(",").map((part) => part.trim());
  for (const host of hosts) {
    if (host === "") throw new Error(`must not have empty parts, got ${JSON.stringify(raw)}`);
    if (!/^(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+$|^\[?[0-9a-fA-F:]+\]?$/.test(host)) {
      throw new Error(`must be host names or *.domain, got ${JSON.stringify(host)}`);
    }
  }
  return hosts;
}

/** SASL mechanisms the Kafka client supports. */
export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";
const SASL_MECHANISMS: readonly SaslMechanism[] = ["plain", "scram-sha-256", "scram-sha-512"];

/**
 * A SASL mechanism name (any case); empty means none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { saslMechanism } from "./options.ts";
 * assert.equal(saslMechanism("SCRAM-SHA-512"), "scram-sha-512");
 * assert.equal(saslMechanism(""), undefined);
 * ```
 */
export function saslMechanism(raw: string): SaslMechanism | undefined {
  const value = raw.trim().toLowerCase();
  if (value === "") return undefined;
  const mechanism = SASL_MECHANISMS.find((candidate) => candidate === value);
  if (mechanism === undefined) {
    throw new Error(`must be one of ${SASL_MECHANISMS.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return mechanism;
}

/** A mechanism needs both credentials, and credentials need a mechanism. */
function checkSasl(values: Readonly<Record<string, unknown>>): string | undefined {
  const missing = [
    ["KAFKA_SASL_USERNAME (--sasl-username)", values.saslUsername],
    ["KAFKA_SASL_PASSWORD (--sasl-password)", values.saslPassword],
  ].filter(([, value]) => value === undefined).map(([name]) => name);
  if (values.saslMechanism !== undefined) {
    if (missing.length === 0) return undefined;
    return `SASL mechanism ${values.saslMechanism} needs ${missing.join(" and ")}, ${
      missing.length === 1 ? "which is" : "which are"
    } unset`;
  }
  if (missing.length === 2) return undefined;
  return `SASL credentials are set but KAFKA_SASL_MECHANISM (--sasl-mechanism) is not: ` +
    `set it to ${SASL_MECHANISMS.join(", ").replace(/, ([^,]*)$/, " or $1")}`;
}

/** Kafka options shared by every script: brokers, topic, SASL and TLS. */
export const kafkaOptions = {
  brokers: {
    flag: "brokers",
    env: "KAFKA_BROKERS",
    arg: "HOST:PORT,...",
    help: "Kafka bootstrap brokers",
    fallback: ["127.0.0.1:9092"],
    fallbackHelp: "127.0.0.1:9092",
    parse: brokerList,
    grant: "kafka",
  },
  topic: {
    flag: "topic",
    env: "KAFKA_TOPIC",
    arg: "NAME",
    help: "Topic of song_completed events",
    fallback: "tony-allen-plays",
    parse: topicName,
  },
  saslMechanism: {
    flag: "sasl-mechanism",
    env: "KAFKA_SASL_MECHANISM",
    arg: "NAME",
    help: "SASL mechanism: plain, scram-sha-256 or scram-sha-512",
    fallback: undefined,
    fallbackHelp: "none",
    parse: saslMechanism,
    check: checkSasl,
  },
  saslUsername: {
    flag: "sasl-username",
    env: "KAFKA_SASL_USERNAME",
    arg: "NAME",
    help: "SASL user name",
    fallback: undefined,
    parse: optional,
  },
  saslPassword: {
    flag: "sasl-password",
    env: "KAFKA_SASL_PASSWORD",
    arg: "SECRET",
    help: "SASL password; prefer the variable (deno task echoes flags, ps shows them)",
    fallback: undefined,
    parse: optional,
    secret: true,
  },
  ssl: {
    flag: "ssl",
    env: "KAFKA_SSL",
    help: "Connect with TLS",
    fallback: (raw: RawValues): boolean => raw.sslCa !== undefined,
    fallbackHelp: "false, true with --ssl-ca",
    parse: boolean,
    check: (values) =>
      values.ssl === false && values.sslCa !== undefined
        ? "KAFKA_SSL_CA (--ssl-ca) needs TLS, but KAFKA_SSL (--ssl) is false"
        : undefined,
  },
  sslCa: {
    flag: "ssl-ca",
    env: "KAFKA_SSL_CA",
    arg: "FILE",
    help: "PEM file of the CA that signed the brokers' certificates (implies --ssl)",
    fallback: undefined,
    parse: optional,
  },
  sslRejectUnauthorized: {
    flag: "ssl-reject-unauthorized",
    env: "KAFKA_SSL_REJECT_UNAUTHORIZED",
    help: "Verify the brokers' certificates; =false only for a throwaway test broker",
    fallback: true,
    parse: boolean,
  },
  allowAdvertised: {
    flag: "allow-advertised",
    env: "KAFKA_ALLOW_ADVERTISED",
    arg: "HOST,...",
    help: "Hosts the brokers may advertise outside the configured brokers' domain " +
      "(*.example.com for a domain); the launcher grants only those",
    fallback: [] as string[],
    parse: advertisedHosts,
  },
} satisfies Record<string, Option<unknown>>;

/** Kafka options of the consuming side (group and dead-letter topic). */
export const groupOptions = {
  group: {
    flag: "group",
    env: "KAFKA_GROUP",
    arg: "NAME",
    help: "Consumer group id",
    fallback: "tony-allen-consumer",
    parse: text(/^[^\s]{1,255}$/, "a group id without spaces"),
  },
  dlqTopic: {
    flag: "dlq-topic",
    env: "KAFKA_DLQ_TOPIC",
    arg: "NAME",
    help: "Dead-letter topic for messages that cannot be stored",
    fallback: (raw: RawValues) => `${raw.topic ?? kafkaOptions.topic.fallback}.dlq`,
    fallbackHelp: "<topic>.dlq",
    parse: topicName,
  },
  sessionTimeoutMs: {
    flag: "session-timeout-ms",
    env: "KAFKA_SESSION_TIMEOUT_MS",
    arg: "MS",
    help:
      "How long the group waits for a silent member (a crashed one) before its partitions move; within the broker's group.min/max.session.timeout.ms",
    fallback: 30_000,
    parse: integer(1_000, 3_600_000),
  },
} satisfies Record<string, Option<unknown>>;

/** Partitions of a topic a script creates because it is missing. */
export const partitionsOption = {
  flag: "partitions",
  env: "KAFKA_PARTITIONS",
  arg: "N",
  help: "Partitions when creating a missing topic",
  fallback: 3,
  parse: integer(1, 10_000),
} satisfies Option<number>;

/** Brokers, topic and security. */
export type KafkaConfig = Values<typeof kafkaOptions>;
/** Group and dead-letter topic. */
export type GroupConfig = Values<typeof groupOptions>;

/**
 * Parses only the Kafka and group options (handy for tests and tools).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadKafkaConfig } from "./options.ts";
 * const config = loadKafkaConfig([], { KAFKA_TOPIC: "plays" });
 * assert.equal(config.dlqTopic, "plays.dlq");
 * ```
 */
export function loadKafkaConfig(
  args: readonly string[],
  env: Record<string, string | undefined>,
): KafkaConfig & GroupConfig {
  return parseOptions({ ...kafkaOptions, ...groupOptions }, args, env);
}
