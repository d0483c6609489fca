/**
 * The Kafka client: connection and security settings, and kafkajs' logs
 * bridged into LogTape. {@linkcode createKafka} returns an opaque
 * {@linkcode KafkaClient}; the other modules of this folder (source,
 * publisher, admin, reader) build on it, so nothing outside the folder ever
 * holds a kafkajs object and the client library could be swapped here.
 *
 * @module
 */

import { connect as connectTcp, isIP } from "node:net";
import { connect as connectTls, type ConnectionOptions } from "node:tls";
import { type ISocketFactory, Kafka, type KafkaConfig as KafkaJsConfig, logLevel } from "kafkajs";
import { kafkaOptions } from "./options.ts";
import { errorMessage } from "../errors.ts";
import { addSecret, logger } from "../ops/mod.ts";

const log = logger("kafka");

// Fields of kafkajs log entries that may carry credentials or raw protocol
// bytes (SASL messages); they are never logged.
const UNSAFE_FIELD = /pass|secret|sasl|auth|token|credential|buffer|payload/i;

// kafkajs warns about this for every idempotent producer given bounded
// retries. Ours are bounded on purpose: a broker outage must reach the
// caller's abort signal and shutdown deadline. The publisher (publisher.ts)
// sends one partition per request and retries a request kafkajs gave up on
// unchanged, before anything else for that partition, so the sequence numbers
// kafkajs rolled back go to the same records again.
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

// Errors a broker answers while it or a new topic warms up, or while two
// scripts create the same topic at once. kafkajs retries them (or treats
// "already exists" as done); one that lasts reaches the caller as an error,
// which the script reports. Logged at debug, so a normal start shows none.
const EXPECTED_RESPONSE_ERRORS = new Set([
  "Topic creation errors",
  "Topic with this name already exists",
  "The group coordinator is not available",
  "The coordinator is loading and hence can't process requests for this group",
  "This is not the correct coordinator for this group",
  "There is no leader for this topic-partition as we are in the middle of a leadership election",
  "This server does not host this topic-partition",
  "This is not the correct controller for this cluster",
]);

/**
 * Whether a kafkajs error entry is a broker's answer that is expected while
 * things start (see `EXPECTED_RESPONSE_ERRORS`), not a failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isExpectedResponseError } from "./client.ts";
 * assert.equal(isExpectedResponseError("Response CreateTopics(key: 19, version: 3)", "Topic creation errors"), true);
 * assert.equal(isExpectedResponseError("Response Produce(key: 0, version: 7)", "Topic authorization failed"), false);
 * assert.equal(isExpectedResponseError("Connection error: connect ECONNREFUSED", undefined), false);
 * ```
 */
export function isExpectedResponseError(message: string, error: unknown): boolean {
  return message.startsWith("Response ") && typeof error === "string" &&
    EXPECTED_RESPONSE_ERRORS.has(error);
}

/**
 * Whether a kafkajs error entry is about a failed send: the producer's own
 * lines (`namespace` "Producer") and the broker's answer to a produce
 * request. The publisher hands every failed send to its caller, which
 * reports it once (a retry warning, or the line it stops with), so the
 * client's own lines would only say it again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSendError } from "./client.ts";
 * assert.equal(isSendError("Connection", "Response Produce(key: 0, version: 7)"), true);
 * assert.equal(isSendError("Producer", "Failed to send messages: Topic authorization failed"), true);
 * assert.equal(isSendError("Consumer", "Crash: KafkaJSNumberOfRetriesExceeded"), false);
 * ```
 */
export function isSendError(namespace: string | undefined, message: string): boolean {
  return namespace === "Producer" || message.startsWith("Response Produce(");
}

function bridgeLogs(): NonNullable<KafkaJsConfig["logCreator"]> {
  return () => ({ namespace, level, log: entry }) => {
    const { message, timestamp: _t, logger: _l, stack: _s, ...raw } = entry;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (!UNSAFE_FIELD.test(key)) fields[key] = safeLogField(value);
    }
    const text = `kafkajs${namespace ? ` ${namespace}` : ""}: ${message}`;
    switch (level) {
      case logLevel.ERROR:
        if (isExpectedResponseError(message, raw.error) || isSendError(namespace, message)) {
          log.debug(text, fields);
        } else log.error(text, fields);
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

/** Time a script's first connection to Kafka may take before it gives up. */
export const FIRST_CONTACT_MS = 10_000;

/** Time a first contact keeps trying brokers that answer with a refusal. */
const ANSWERED_MS = 2_000;

/**
 * No broker answered: the message names the addresses, the reason and what
 * to check, in one line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KafkaUnreachableError } from "./client.ts";
 * const error = new KafkaUnreachableError(["127.0.0.1:1"], "connection refused");
 * assert.match(error.message, /^Cannot reach Kafka at 127\.0\.0\.1:1 \(--brokers, KAFKA_BROKERS\): connection refused\. Check /);
 * ```
 */
export class KafkaUnreachableError extends Error {
  readonly brokers: readonly string[];
  readonly reason: string;
  constructor(brokers: readonly string[], reason: string) {
    const { flag, env } = kafkaOptions.brokers;
    super(
      `Cannot reach Kafka at ${brokers.join(",")} (--${flag}, ${env}): ${reason}. ` +
        `Check that the broker runs ('deno task status' shows the local one) and its address`,
    );
    this.name = "KafkaUnreachableError";
    this.brokers = brokers;
    this.reason = reason;
  }
}

/** Properties of `error` and the errors it wraps (kafkajs: `originalError`, `cause`). */
function* errorChain(error: unknown): Generator<Record<string, unknown>> {
  for (let current = error, depth = 0; depth < 6; depth++) {
    if (typeof current !== "object" || current === null) return;
    yield { ...current, message: current instanceof Error ? current.message : undefined };
    current = "originalError" in current
      ? current.originalError
      : "cause" in current
      ? current.cause
      : undefined;
  }
}

/**
 * Why a connection failed, in words, when `error` says the broker could not
 * be reached (refused, no answer, unknown host, not granted); undefined for
 * anything else (a refused password, a bad certificate).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unreachableReason } from "./client.ts";
 * const refused = Object.assign(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:1"), {
 *   name: "KafkaJSConnectionError",
 *   code: "ECONNREFUSED",
 * });
 * assert.equal(unreachableReason({ originalError: refused }), "connection refused");
 * assert.equal(unreachableReason(new Error("SASL PLAIN authentication failed")), undefined);
 * ```
 */
export function unreachableReason(error: unknown): string | undefined {
  for (const link of errorChain(error)) {
    const message = typeof link.message === "string" ? link.message : "";
    const code = typeof link.code === "string" ? link.code : "";
    if (code === "ECONNREFUSED" || message.includes("ECONNREFUSED")) return "connection refused";
    if (/ENOTFOUND|EAI_AGAIN|EAI_NONAME/.test(code + message)) return "unknown host name";
    if (/EPERM|NotCapable|Requires net access/.test(code + message)) {
      return "not granted by the permissions (see --print-permissions)";
    }
    if (/EHOSTUNREACH|ENETUNREACH/.test(code + message)) return "no route to the host";
    if (message === "Connection timeout" || code === "ETIMEDOUT") return "no answer";
    if (/ECONNRESET|EPIPE|Closed connection/.test(code + message)) {
      return "the connection was closed (is it a Kafka listener, with the right TLS setting?)";
    }
  }
  return undefined;
}

/**
 * One short metadata request to `brokers` with `options`' security settings,
 * retried until `timeoutMs`; returns the addresses the cluster advertises
 * (`host:port`), which clients connect to after the first contact. Logs
 * nothing. Throws {@linkcode KafkaUnreachableError} when no broker answered,
 * and the client's own error otherwise (e.g. a refused password).
 */
export async function probeKafka(
  options: KafkaSecurityOptions & { brokers: readonly string[] },
  timeoutMs: number,
): Promise<string[]> {
  const kafka = new Kafka({
    clientId: "livecharts-probe",
    brokers: [...options.brokers],
    connectionTimeout: Math.min(3_000, timeoutMs),
    requestTimeout: timeoutMs,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    socketFactory: configuredBrokersOnly(options.brokers),
    ...kafkaSecurity(options),
  });
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: unknown;
  while (true) {
    const admin = kafka.admin({ retry: { retries: 0 } });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error("Connection timeout"), { code: "ETIMEDOUT" })),
          Math.max(1, deadline - Date.now()),
        );
      });
      const asking = admin.connect().then(() => admin.describeCluster());
      asking.catch(() => {}); // when too late, nobody awaits it any more
      const cluster = await Promise.race([asking, late]);
      return cluster.brokers.map(({ host, port }) =>
        `${host.includes(":") ? `[${host}]` : host}:${port}`
      );
    } catch (error) {
      last = error;
      const reason = unreachableReason(error);
      if (reason === undefined) throw error;
      // Refused (or an unknown name) is a clear answer: a broker still
      // starting gets 2 s, no more. No answer at all is waited for.
      if (reason !== "no answer" && Date.now() - started >= ANSWERED_MS) break;
    } finally {
      clearTimeout(timer);
      await admin.disconnect().catch(() => {});
    }
    if (Date.now() + 500 >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const reason = unreachableReason(last) ?? errorMessage(last);
  throw new KafkaUnreachableError(
    options.brokers,
    reason === "no answer" ? `no answer within ${Math.round(timeoutMs / 1000)} s` : reason,
  );
}

/**
 * Sockets to the configured brokers only. kafkajs asks metadata again of a
 * broker it picks among the advertised ones, which the probe is not granted
 * (learning them is its purpose): such a connection goes to the configured
 * broker that answered last, which gives the same cluster metadata. kafkajs'
 * socket factory is not exported, hence this one.
 */
function configuredBrokersOnly(brokers: readonly string[]): ISocketFactory {
  const configured = new Set(brokers);
  let answered: { host: string; port: number } | undefined;
  return ({ host, port, ssl, onConnect }) => {
    const own = configured.has(`${host}:${port}`) || configured.has(`[${host}]:${port}`);
    const target = own ? { host, port } : answered ?? { host, port };
    const connected = () => {
      if (own) answered = { host, port };
      onConnect();
    };
    const socket = ssl
      ? connectTls({
        ...target,
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...ssl,
      }, connected)
      : connectTcp(target, connected);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}

/** `made` with a `connect()` that first awaits `first()`. */
function connectAfter<T extends { connect(): Promise<void> }>(
  made: T,
  first: () => Promise<void>,
): T {
  const connect = made.connect.bind(made);
  made.connect = async () => {
    await first();
    await connect();
  };
  return made;
}

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
  // The first connection of this client is one bounded, silent probe: a
  // broker that does not answer fails the script in seconds, with one clear
  // line, instead of a minute of retries. After that, kafkajs' retries ride
  // out broker restarts as before.
  let contact: Promise<void> | undefined;
  const first = (): Promise<void> =>
    contact ??= probeKafka(options, FIRST_CONTACT_MS).then(() => {}, (error) => {
      contact = undefined;
      throw error;
    });
  const admin = kafka.admin.bind(kafka);
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  kafka.admin = (config) => connectAfter(admin(config), first);
  kafka.producer = (config) => connectAfter(producer(config), first);
  kafka.consumer = (config) => connectAfter(consumer(config), first);
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
