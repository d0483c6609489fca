// Importing the Kafka folder changes nothing in the process; the entry
// scripts install kafkajs' patches with one explicit call
// (shared/kafka/install_patches.ts).
import assert from "node:assert/strict";
import process from "node:process";
import Encoder from "kafkajs/src/protocol/encoder.js";
import OffsetManager from "kafkajs/src/consumer/offsetManager/index.js";

const ROOT = new URL("../../", import.meta.url);

Deno.test("installKafkaPatches() installs what importing the Kafka folder does not", async () => {
  const emitWarning = process.emitWarning;
  const { writeUVarInt, writeVarLong } = Encoder.prototype;
  const kafka = await import("../../shared/kafka/mod.ts");
  const { fastVarintsInstalled } = await import("../../shared/kafka/encoder_patch.ts");
  const { coordinatorFollowingInstalled } = await import(
    "../../shared/kafka/coordinator_patch.ts"
  );
  const { commitOffsets } = OffsetManager.prototype;
  const { kafkajsRequire } = await import("../../shared/kafka/kafkajs_modules.ts");
  const recordDecoder = () => kafkajsRequire("a test")("./recordBatch/record/v0/decoder.js");
  const kafkajsRecordDecoder = recordDecoder();
  assert.equal(coordinatorFollowingInstalled(), false);
  assert.equal(process.emitWarning, emitWarning, "importing leaves process.emitWarning alone");
  assert.equal(Encoder.prototype.writeUVarInt, writeUVarInt, "importing leaves kafkajs alone");
  assert.equal(Encoder.prototype.writeVarLong, writeVarLong);
  assert.equal(fastVarintsInstalled(), false);

  kafka.installKafkaPatches();
  assert.notEqual(process.emitWarning, emitWarning, "the warning filter is installed");
  assert.notEqual(Encoder.prototype.writeUVarInt, writeUVarInt, "the varint writers are installed");
  assert.notEqual(Encoder.prototype.writeVarLong, writeVarLong);
  assert.equal(fastVarintsInstalled(), true);
  assert.notEqual(OffsetManager.prototype.commitOffsets, commitOffsets, "commits follow");
  assert.equal(coordinatorFollowingInstalled(), true);
  assert.notEqual(recordDecoder(), kafkajsRecordDecoder, "fetched records decoded by the patch");

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

Deno.test("installKafkaPatches() makes kafkajs' commits go to the group's new coordinator after NOT_COORDINATOR", async () => {
  const { installKafkaPatches } = await import("../../shared/kafka/mod.ts");
  installKafkaPatches();
  const sent: string[] = [];
  const broker = (name: string, answer: () => Promise<void>) => ({
    isConnected: () => true,
    offsetCommit() {
      sent.push(name);
      return answer();
    },
  });
  const former = broker("former", () =>
    Promise.reject(
      Object.assign(new Error("This is not the correct coordinator for this group"), {
        type: "NOT_COORDINATOR_FOR_GROUP",
      }),
    ));
  const current = broker("current", () => Promise.resolve());
  // kafkajs' own OffsetManager, its broker and cluster stood in for.
  const manager = Object.assign(Object.create(OffsetManager.prototype), {
    groupId: "g",
    generationId: 3,
    memberId: "m",
    topics: ["t"],
    coordinator: former,
    instrumentationEmitter: { emit() {} },
    cluster: {
      refreshMetadata: () => Promise.resolve(),
      committedOffsets: () => ({}),
      findGroupCoordinator: ({ groupId }: { groupId: string }) =>
        Promise.resolve(groupId === "g" ? current : former),
    },
  });
  manager.committedOffsets(); // as its constructor does
  const offsets = { topics: [{ topic: "t", partitions: [{ partition: 0, offset: "7" }] }] };
  await assert.rejects(manager.commitOffsets(offsets), /not the correct coordinator/);
  await manager.commitOffsets(offsets); // the caller's retry
  assert.deepEqual(sent, ["former", "current"]);
  assert.equal(manager.coordinator, current);
});
