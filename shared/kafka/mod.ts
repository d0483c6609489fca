export * from "./admin.ts";
export {
  createKafka,
  FIRST_CONTACT_MS,
  isExpectedResponseError,
  type KafkaClient,
  type KafkaClientOptions,
  type KafkaSecurity,
  kafkaSecurity,
  type KafkaSecurityOptions,
  KafkaUnreachableError,
  probeKafka,
  safeLogField,
  type SaslCredentials,
  unreachableReason,
} from "./client.ts";
export * from "./encoder_patch.ts";
export * from "./errors.ts";
export * from "./options.ts";
export * from "./publisher.ts";
export * from "./reader.ts";
export * from "./source.ts";
export { installKafkaPatches } from "./install_patches.ts";
