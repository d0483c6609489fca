/**
 * The Kafka client: connection and security settings, and kafkajs' logs
 * bridged into LogTape. {@linkcode createKafka} returns an opaque
 * {@linkcode KafkaClient}; the other modules of this folder (source,
 * publisher, admin, reader) build on it, so nothing outside the folder ever
 * holds a kafkajs object and the client library could be swapped here.
 *
 * @module
 */

import process from "node:process";
import type { ConnectionOptions } from "node:tls";
import { Kafka, type KafkaConfig as KafkaJsConfig, logLevel } from "kafkajs";
import { installFastVarints } from "./encoder_patch.ts";
import { errorMessage } from "../cli/mod.ts";
import { addSecret, logger } from "../ops/mod.ts";

// kafkajs spends most of a producer's time building a Buffer per varint;
// these write the same bytes in place (see encoder_patch.ts).
installFastVarints();

const log = logger("kafka");

// Fields of kafkajs log entries that may carry credentials or raw protocol
// bytes (SASL messages); they are never logged.
const UNSAFE_FIELD = /pass|secret|sasl|auth|token|credential|buffer|payload/i;

// kafkajs warns about this for every idempotent producer given bounded
// retries. Ours are bounded on purpose: a broker outage must reach the
// caller's own retry and shutdown deadline. After a failed send the
// publisher replaces its producer (publisher.ts), so no other records are
// ever sent under the sequence numbers kafkajs rolled back.
const EXPECTED_WARNING = "Limiting retries for the idempotent producer";

/**
 * A kafkajs log field made safe to log: bytes become their length, and
 * fields that may hold credentials or protocol bytes are dropped (in nested
 * objects too). Strings are redacted later, by the log formatter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeLogField } from "./client.ts";
 * assert.deepEqual(safeLogField({ broker: "b:9092", sasl: { password: "pw" } }), { broker: "b:9092" });
 * assert.equal(safeLogField(new Uint8Array(3)), "<3 bytes>");
 * ```
 */
export function safeLogField(value: unknown, depth = 0): unknown {
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (value instanceof Error) return value.message;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= 4) return "<nested>";
  if (Array.isArray(value)) return value.map((item) => safeLogField(item, depth + 1));
  const safe: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!UNSAFE_FIELD.test(key)) safe[key] = safeLogField(item, depth + 1);
  }
  return safe;
}

function bridgeLogs(): NonNullable<KafkaJsConfig["logCreator"]> {
  return () => ({ level, log: entry }) => {
    const { message, timestamp: _t, logger: _l, stack: _s, ...raw } = entry;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (!UNSAFE_FIELD.test(key)) fields[key] = safeLogField(value);
    }
    const text = `${entry.namespace ?? "kafkajs"}: ${message}`;
    switch (level) {
      case logLevel.ERROR:
        log.error(text, fields);
        break;
      case logLevel.WARN:
        if (message.startsWith(EXPECTED_WARNING)) log.debug(text, fields);
        else log.warn(text, fields);
        break;
      case logLevel.INFO:
        log.debug(text, fields);
        break;
      default:
        log.trace(text, fields);
    }
  };
}

/** Authentication and encryption settings (the `kafkaOptions` of options.ts). */
export interface KafkaSecurityOptions {
  /** `plain`, `scram-sha-256` or `scram-sha-512` (any case); unset: no SASL. */
  saslMechanism?: string | undefined;
  saslUsername?: string | undefined;
  saslPassword?: string | undefined;
  /** Connect with TLS; implied by `sslCa`. */
  ssl?: boolean | undefined;
  /** PEM file of the CA that signed the brokers' certificates (default: public roots). */
  sslCa?: string | undefined;
  /** Verify the brokers' certificates (default true). */
  sslRejectUnauthorized?: boolean | undefined;
}

/** Connection settings of {@linkcode createKafka}. */
export interface KafkaClientOptions extends KafkaSecurityOptions {
  brokers: string[];
  clientId: string;
}

/** SASL credentials as the client takes them. */
export type SaslCredentials =
  | { mechanism: "plain"; username: string; password: string }
  | { mechanism: "scram-sha-256"; username: string; password: string }
  | { mechanism: "scram-sha-512"; username: string; password: string };

/** What {@linkcode kafkaSecurity} adds to the client configuration. */
export interface KafkaSecurity {
  sasl?: SaslCredentials;
  ssl?: ConnectionOptions | boolean;
}

/** Reads a PEM CA file; the error names the file, never its contents. */
function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = Deno.readTextFileSync(path);
  } catch (error) {
    throw new Error(
      `Cannot read the Kafka CA file ${JSON.stringify(path)}: ${errorMessage(error)}`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(
      `Cannot use the Kafka CA file ${JSON.stringify(path)}: expected PEM certificates ` +
        `(-----BEGIN CERTIFICATE-----)`,
    );
  }
  return pem;
}

/**
 * The client's `sasl` and `ssl` settings for `options` (reads the CA file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kafkaSecurity } from "./client.ts";
 * assert.deepEqual(
 *   kafkaSecurity({ saslMechanism: "scram-sha-512", saslUsername: "app", saslPassword: "pw" }),
 *   { sasl: { mechanism: "scram-sha-512", username: "app", password: "pw" } },
 * );
 * ```
 */
export function kafkaSecurity(options: KafkaSecurityOptions): KafkaSecurity {
  const security: KafkaSecurity = {};
  if (options.saslMechanism !== undefined) {
    const { saslUsername: username, saslPassword: password } = options;
    const mechanism = options.saslMechanism.toLowerCase();
    if (username === undefined || password === undefined) {
      throw new Error(`Cannot use SASL ${mechanism} without a user name and a password`);
    }
    switch (mechanism) {
      case "plain":
      case "scram-sha-256":
      case "scram-sha-512":
        security.sasl = { mechanism, username, password };
        break;
      default:
        throw new Error(
          `Cannot use SASL mechanism ${JSON.stringify(options.saslMechanism)}: ` +
            `expected plain, scram-sha-256 or scram-sha-512`,
        );
    }
  }
  const rejectUnauthorized = options.sslRejectUnauthorized ?? true;
  if (options.sslCa !== undefined) {
    security.ssl = { ca: [readCaFile(options.sslCa)], rejectUnauthorized };
  } else if (options.ssl) {
    security.ssl = rejectUnauthorized ? true : { rejectUnauthorized };
  }
  return security;
}

/**
 * A configured connection to Kafka, as returned by {@linkcode createKafka}.
 * Opaque: pass it to `createSource`, `openPublisher`, `createAdmin`,
 * `ensureTopic`, `readToEnd` or `startTopicReader`.
 */
export interface KafkaClient {
  readonly clientId: string;
  readonly brokers: readonly string[];
}

const clients = new WeakMap<KafkaClient, Kafka>();

/**
 * Creates a Kafka client that logs through LogTape and keeps retrying
 * connections (a broker restart must not end a long-running script).
 * Authenticates with SASL and encrypts with TLS as `options` say; the
 * password is registered for redaction, so no log line ever shows it.
 * Extra properties in `options` are ignored: a script's whole config fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createKafka } from "./client.ts";
 * const kafka = createKafka({ brokers: ["127.0.0.1:9092"], clientId: "example" });
 * assert.deepEqual([kafka.clientId, kafka.brokers], ["example", ["127.0.0.1:9092"]]);
 * ```
 */
export function createKafka(options: KafkaClientOptions): KafkaClient {
  addSecret(options.saslPassword);
  const security = kafkaSecurity(options);
  if (typeof security.ssl === "object" && security.ssl.rejectUnauthorized === false) {
    log.warn("Not verifying the brokers' TLS certificates (KAFKA_SSL_REJECT_UNAUTHORIZED=false)");
  }
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    logLevel: logLevel.INFO,
    logCreator: bridgeLogs(),
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 12 },
    ...security,
  });
  const client: KafkaClient = Object.freeze({
    clientId: options.clientId,
    brokers: Object.freeze([...options.brokers]),
  });
  clients.set(client, kafka);
  return client;
}

/**
 * The kafkajs client behind `client`, for the modules of this folder only
 * (mod.ts does not export it).
 */
export function kafkajsOf(client: KafkaClient): Kafka {
  const kafka = clients.get(client);
  if (kafka === undefined) {
    throw new Error(`Cannot use Kafka client ${client.clientId}: it was not made by createKafka()`);
  }
  return kafka;
}

// kafkajs schedules some timers with a negative delay (treated as 1 ms);
// the runtime's warning about it says nothing useful to our users.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = warning instanceof Error ? warning.name : typeof rest[0] === "string" ? rest[0] : "";
  if (name === "TimeoutNegativeWarning") return;
  Reflect.apply(emitWarning, process, [warning, ...rest]);
}) as typeof process.emitWarning;
