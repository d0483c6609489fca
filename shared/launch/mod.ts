/**
 * How scripts are launched: the launcher behind the `produce`, `consume`,
 * `dashboard` and `dlq` tasks (`launch.ts`, run as a script) plans each
 * run's narrowest grants from the script's own configuration
 * (`permissions.ts`) and checks that the configured services answer; the
 * task spawner starts a deno.json task's script with exactly those grants and
 * reads its output line by line (`tasks.ts`); `deno task start` also starts
 * the local services (`services.ts`) and shows its scripts in one combined
 * view (`combined_view.ts`).
 *
 * This module exports the task spawner, the services start and the combined
 * view, used by `start.ts`, the benchmark and the tests; `launch.ts` is the
 * launcher script itself (it imports only dependency-free option tables,
 * `shared/tables/`, and asks Kafka for its advertised brokers through
 * `kafka_probe.ts`, a process of its own granted only the configured
 * brokers), so it is not exported here. No pipeline stage imports this
 * folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runArgs } from "./mod.ts";
 * assert.deepEqual(
 *   runArgs({ tasks: { dlq: "deno run --allow-net=127.0.0.1:9092 dlq.ts" } }, "dlq"),
 *   ["run", "--allow-net=127.0.0.1:9092", "dlq.ts"],
 * );
 * ```
 *
 * @module
 */

export { type CombinedView, createCombinedView, type ShownScript } from "./combined_view.ts";
export { startServices } from "./services.ts";
export {
  type Child,
  type ChildExit,
  LAUNCHER,
  type OutputLine,
  readTaskLine,
  runArgs,
  spawnCommand,
  type SpawnOptions,
  spawnTask,
  tail,
  taskCommand,
  type TaskLine,
  taskLine,
  type TaskOptions,
  taskRunArgs,
  waitWithin,
} from "./tasks.ts";
