/**
 * The feed: where the counts come from. BigQuery's aggregated history below
 * the BigQuery consumer's committed offsets (the anchors), then the plays
 * read from Kafka from there on; re-anchored now and then, with the reader's
 * lag and the dashboard's state (`catching-up`, `live`, `degraded`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyMessages } from "./mod.ts";
 * import { createPlayCounter } from "../counting/mod.ts";
 * const value = new TextEncoder().encode("not json");
 * const applied = applyMessages(createPlayCounter(), "plays", 0, [{ offset: "0", value, timestamp: "0" }]);
 * assert.equal(applied.invalid.length, 1);
 * ```
 *
 * @module
 */

export { describeAnchors, type PartitionAnchor, readAnchors } from "./anchors.ts";
export { createLiveFeed, type LiveFeed, type LiveState, type LiveStatus } from "./live_feed.ts";
export { applyMessages, type FeedStats, startPlayFeed } from "./play_feed.ts";
