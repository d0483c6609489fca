/**
 * The process-wide changes kafkajs needs, installed by one explicit call
 * from each entry script that uses Kafka (importing this folder changes
 * nothing): the fast varint writers of `encoder_patch.ts`, the record
 * batches written in shared blocks and checksummed in WebAssembly of
 * `batch_patch.ts`, fetched records decoded with plain numbers
 * (`record_decoder_patch.ts`), commits that
 * follow a moved group coordinator (`coordinator_patch.ts`), and a filter on
 * `process.emitWarning` that drops the runtime's warning about kafkajs'
 * negative timer delays.
 *
 * @module
 */

import process from "node:process";
import { installFastVarints } from "./encoder_patch.ts";
import { installFastBatches } from "./batch_patch.ts";
import { installCoordinatorFollowing } from "./coordinator_patch.ts";
import { installFastRecordDecoder } from "./record_decoder_patch.ts";

let installed = false;

/**
 * Installs kafkajs' patches for this process: once; later calls do nothing.
 *
 * - kafkajs spends most of a producer's time building a Buffer per varint;
 *   the patched writers write the same bytes in place (see `encoder_patch.ts`).
 * - kafkajs makes a zero-filled encoder per record and checksums each batch
 *   a byte at a time; records without headers are written into shared blocks
 *   and batches checksummed by hash-wasm instead (see `batch_patch.ts`).
 * - kafkajs decodes each fetched record's offset and timestamp through
 *   dozens of 64-bit `Long` objects; records without headers are decoded
 *   with numbers into records whose fields are made when read (see
 *   `record_decoder_patch.ts`).
 * - kafkajs' consumer commits to the group coordinator it found at its last
 *   join, even after the coordinator moved; the patched commit looks it up
 *   again after a `NOT_COORDINATOR` answer (see `coordinator_patch.ts`).
 * - kafkajs schedules some timers with a negative delay (treated as 1 ms); the
 *   runtime's `TimeoutNegativeWarning` about it says nothing useful to our
 *   users, so it is not emitted. Every other warning is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { installKafkaPatches } from "./install_patches.ts";
 * installKafkaPatches();
 * const filtered = process.emitWarning;
 * installKafkaPatches();
 * assert.equal(process.emitWarning, filtered);
 * ```
 */
export function installKafkaPatches(): void {
  if (installed) return;
  installed = true;
  installFastVarints();
  installFastBatches();
  installCoordinatorFollowing();
  installFastRecordDecoder();
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const name = warning instanceof Error
      ? warning.name
      : typeof rest[0] === "string"
      ? rest[0]
      : "";
    if (name === "TimeoutNegativeWarning") return;
    Reflect.apply(emitWarning, process, [warning, ...rest]);
  }) as typeof process.emitWarning;
}
