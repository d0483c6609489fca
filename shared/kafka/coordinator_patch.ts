/**
 * Commits that follow the group coordinator when it moves, installed by
 * `installKafkaPatches()` (install_patches.ts), which the entry scripts call.
 *
 * kafkajs 2.2.4's consumer commits offsets through the coordinator it found
 * when it last joined the group, and looks for another one only when that
 * broker's connection is closed. When the coordinator moves to another
 * broker that is alive (its `__consumer_offsets` partition gets a new
 * leader: a node stopped, restarted, a leader election), every commit is
 * answered `NOT_COORDINATOR` by the former one, retried against it again,
 * and the consumer stores nothing more until the group happens to rebalance:
 * on the three-node test cluster a consumer stood still for more than a
 * minute after a rolling restart. The patched commit asks the cluster for
 * the group's coordinator after such an answer, so the next attempt goes to
 * the right broker (same member, same generation: a coordinator move keeps
 * them). kafkajs is pinned to exactly 2.2.4 in deno.json, since this targets
 * its internals.
 *
 * @module
 */

import OffsetManager from "kafkajs/src/consumer/offsetManager/index.js";

/** The coordinator's answers that say to look for it elsewhere. */
const MOVED = new Set(["NOT_COORDINATOR_FOR_GROUP", "GROUP_COORDINATOR_NOT_AVAILABLE"]);

/** The part of kafkajs' `OffsetManager` the patch uses. */
interface OffsetManagerLike {
  groupId: string;
  coordinator: unknown;
  cluster: { findGroupCoordinator(options: { groupId: string }): Promise<unknown> };
}

type Commit = (this: OffsetManagerLike, offsets?: unknown) => Promise<void>;

let original: Commit | undefined;

function errorType(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "type" in error &&
      typeof error.type === "string"
    ? error.type
    : undefined;
}

/**
 * `commit` made to look the coordinator up again after an answer that says
 * it moved; the error is thrown on, for the caller's retry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { followingCoordinator } from "./coordinator_patch.ts";
 * const manager = {
 *   groupId: "g",
 *   coordinator: "node 1",
 *   cluster: { findGroupCoordinator: () => Promise.resolve("node 2") },
 * };
 * const commit = followingCoordinator(() =>
 *   Promise.reject(Object.assign(new Error("moved"), { type: "NOT_COORDINATOR_FOR_GROUP" }))
 * );
 * await assert.rejects(commit.call(manager), /moved/);
 * assert.equal(manager.coordinator, "node 2");
 * ```
 */
export function followingCoordinator(commit: Commit): Commit {
  return async function (this: OffsetManagerLike, offsets?: unknown): Promise<void> {
    try {
      return await commit.call(this, offsets);
    } catch (error) {
      if (MOVED.has(errorType(error) ?? "")) {
        try {
          this.coordinator = await this.cluster.findGroupCoordinator({ groupId: this.groupId });
        } catch {
          // Not found now: the next attempt looks again.
        }
      }
      throw error;
    }
  };
}

/**
 * Whether {@linkcode installCoordinatorFollowing} has run
 * (`installKafkaPatches()` runs it).
 */
export function coordinatorFollowingInstalled(): boolean {
  return original !== undefined;
}

/** Installs the commit that follows the coordinator; later calls do nothing. */
export function installCoordinatorFollowing(): void {
  if (original !== undefined) return;
  const prototype: { commitOffsets: Commit } = OffsetManager.prototype;
  original = prototype.commitOffsets;
  prototype.commitOffsets = followingCoordinator(original);
}
