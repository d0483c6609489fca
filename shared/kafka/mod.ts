/**
 * Everything that speaks to Kafka, and the only folder that imports
 * kafkajs: the client (SASL/TLS, logs bridged into LogTape, a bounded first
 * contact), topic administration and lag, the publisher (size-bounded,
 * idempotent sends), the source (a consumer group's batches per partition,
 * commits with metadata), the whole-topic readers, error classification,
 * the Kafka options, and kafkajs' patches, which entry scripts install with
 * {@linkcode installKafkaPatches}. Callers hold an opaque `KafkaClient` and
 * see plain data: byte arrays, offsets as strings or `bigint`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTransientKafkaError, topicName } from "./mod.ts";
 * assert.equal(topicName("plays.dlq"), "plays.dlq");
 * assert.equal(isTransientKafkaError({ type: "MESSAGE_TOO_LARGE" }), false);
 * ```
 *
 * @module
 */

export {
  type CommittedOffset,
  createAdmin,
  ensureTopic,
  type KafkaAdmin,
  type PartitionLag,
  type PartitionOffsets,
} from "./admin.ts";
export {
  createKafka,
  type KafkaClient,
  type KafkaClientOptions,
  type KafkaSecurityOptions,
  KafkaUnreachableError,
  probeKafka,
} from "./client.ts";
export {
  isMembershipError,
  isTransientKafkaError,
  kafkaErrorType,
  KafkaTopicNotFoundError,
} from "./errors.ts";
export { installKafkaPatches } from "./install_patches.ts";
export {
  type GroupConfig,
  groupOptions,
  type KafkaConfig,
  kafkaOptions,
  partitionsOption,
  topicName,
} from "./options.ts";
export {
  type Delivery,
  MAX_REQUEST_BYTES,
  openPublisher,
  type PlainMessage,
  type Publisher,
  type SendOptions,
} from "./publisher.ts";
export { readToEnd, type ReadToEndOptions, type TopicRecord } from "./reader.ts";
export {
  createSource,
  type Source,
  type SourceBatch,
  type SourceOptions,
  type SourceRecord,
} from "./source.ts";
