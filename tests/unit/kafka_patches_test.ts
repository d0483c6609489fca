// Importing the Kafka folder changes nothing in the process; the entry
// scripts install kafkajs' patches with one explicit call
// (shared/kafka/install_patches.ts).
import assert from "node:assert/strict";
import process from "node:process";
import Encoder from "kafkajs/src/protocol/encoder.js";

const ROOT = new URL("../../", import.meta.url);

Deno.test("installKafkaPatches() installs what importing the Kafka folder does not", async () => {
  const emitWarning = process.emitWarning;
  const { writeUVarInt, writeVarLong } = Encoder.prototype;
  const kafka = await import("../../shared/kafka/mod.ts");
  const { fastVarintsInstalled } = await import("../../shared/kafka/encoder_patch.ts");
  assert.equal(process.emitWarning, emitWarning, "importing leaves process.emitWarning alone");
  assert.equal(Encoder.prototype.writeUVarInt, writeUVarInt, "importing leaves kafkajs alone");
  assert.equal(Encoder.prototype.writeVarLong, writeVarLong);
  assert.equal(fastVarintsInstalled(), false);

  kafka.installKafkaPatches();
  assert.notEqual(process.emitWarning, emitWarning, "the warning filter is installed");
  assert.notEqual(Encoder.prototype.writeUVarInt, writeUVarInt, "the varint writers are installed");
  assert.notEqual(Encoder.prototype.writeVarLong, writeVarLong);
  assert.equal(fastVarintsInstalled(), true);

  const installed = [process.emitWarning, Encoder.prototype.writeUVarInt];
  kafka.installKafkaPatches();
  assert.deepEqual([process.emitWarning, Encoder.prototype.writeUVarInt], installed, "once");
});

Deno.test("installKafkaPatches() drops only kafkajs' negative timeout warning", async () => {
  const { installKafkaPatches } = await import("../../shared/kafka/mod.ts");
  installKafkaPatches();
  const seen: string[] = [];
  const listener = (warning: Error) => seen.push(warning.name);
  process.on("warning", listener);
  try {
    process.emitWarning("negative delay", "TimeoutNegativeWarning");
    process.emitWarning("other warnings pass through", "TestWarning");
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    process.off("warning", listener);
  }
  assert.deepEqual(seen, ["TestWarning"]);
});

Deno.test("every entry script that uses Kafka installs its patches", async () => {
  for (const script of ["producer.ts", "consumer.ts", "dashboard.ts", "dlq.ts", "bench.ts"]) {
    const source = await Deno.readTextFile(new URL(script, ROOT));
    assert.match(
      source,
      /\n\s+installKafkaPatches\(\);\n/,
      `${script} calls installKafkaPatches()`,
    );
  }
  const probe = await Deno.readTextFile(new URL("shared/launch/kafka_probe.ts", ROOT));
  assert.match(probe, /\n\s+installKafkaPatches\(\);\n/, "the launcher's Kafka probe calls it too");
});
