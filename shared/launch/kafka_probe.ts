/**
 * The launcher's Kafka probe, run as its own process with only the grants
 * the configured brokers need (their addresses, the CA file, kafkajs'
 * variables): the launcher itself never loads kafkajs. It reads the brokers
 * and security settings as JSON on stdin (a password never travels on a
 * command line) and prints one JSON line: `{"advertised": [...]}`, or
 * `{"unreachable": "..."}` when no broker answered, or `{"error": "..."}`
 * for anything else (a refused password, an unreadable CA file).
 *
 *     echo '{"brokers":["127.0.0.1:9092"],"timeoutMs":4000}' | deno run --allow-net=127.0.0.1:9092 shared/launch/kafka_probe.ts
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import {
  installKafkaPatches,
  type KafkaSecurityOptions,
  KafkaUnreachableError,
  probeKafka,
} from "../kafka/mod.ts";

/** What the probe reads on stdin. */
export interface ProbeRequest extends KafkaSecurityOptions {
  brokers: string[];
  timeoutMs: number;
}

/** What the probe prints. */
export type ProbeAnswer = { advertised: string[] } | { unreachable: string } | { error: string };

async function main(): Promise<ProbeAnswer> {
  installKafkaPatches();
  const request: unknown = JSON.parse(await new Response(Deno.stdin.readable).text());
  if (typeof request !== "object" || request === null) return { error: "Cannot probe: no request" };
  const field = (name: string): unknown => name in request ? Reflect.get(request, name) : undefined;
  const text = (name: string) => {
    const value = field(name);
    return typeof value === "string" ? value : undefined;
  };
  const flag = (name: string) => {
    const value = field(name);
    return typeof value === "boolean" ? value : undefined;
  };
  const brokers = field("brokers");
  const timeoutMs = field("timeoutMs");
  if (!Array.isArray(brokers) || typeof timeoutMs !== "number") {
    return { error: "Cannot probe: 'brokers' and 'timeoutMs' are required" };
  }
  try {
    const advertised = await probeKafka({
      brokers: brokers.map(String),
      saslMechanism: text("saslMechanism"),
      saslUsername: text("saslUsername"),
      saslPassword: text("saslPassword"),
      ssl: flag("ssl"),
      sslCa: text("sslCa"),
      sslRejectUnauthorized: flag("sslRejectUnauthorized"),
    }, timeoutMs);
    return { advertised };
  } catch (error) {
    return error instanceof KafkaUnreachableError
      ? { unreachable: error.message }
      : { error: errorMessage(error) };
  }
}

if (import.meta.main) {
  main().then(
    (answer) => {
      console.log(JSON.stringify(answer));
      Deno.exit(0);
    },
    (error) => {
      console.log(JSON.stringify({ error: errorMessage(error) }));
      Deno.exit(0);
    },
  );
}
