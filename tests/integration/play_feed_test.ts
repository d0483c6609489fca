import assert from "node:assert/strict";
import { songCompleted } from "../support/events.ts";
import { test } from "../support/integration.ts";
import { createKafka } from "../../shared/kafka/mod.ts";
import { startPlayFeed } from "../../shared/live/feed/play_feed.ts";
import { createPlayCounter } from "../../shared/live/counting/windows.ts";
import { produceRaw, uniqueName, waitFor } from "../support/harness.ts";

test("startPlayFeed() reads each partition from its anchor and knows when it caught up", async () => {
  const topic = uniqueName("feed");
  const values = Array.from(
    { length: 12 },
    (_, i) =>
      JSON.stringify(
        songCompleted({
          song_id: 1 + (i % 2),
          timestamp: new Date(Date.now() - i * 1_000).toISOString(),
        }),
      ),
  );
  await produceRaw(topic, values, 2); // offsets 0..5 in each partition
  const counter = createPlayCounter();
  const feed = await startPlayFeed(
    createKafka({ brokers: ["127.0.0.1:9092"], clientId: "tests" }),
    {
      topic,
      counter,
      anchors: [
        { partition: 0, below: 4n, start: 4n, end: 6n },
        { partition: 1, below: 0n, start: 0n, end: 6n },
      ],
    },
  );
  try {
    await waitFor("caught up", () => feed.stats.caughtUp, 30_000);
    assert.equal(feed.stats.read, 2 + 6, "partition 0 from offset 4, partition 1 from 0");
    assert.deepEqual([feed.position(0), feed.position(1)], [6n, 6n]);
    assert.equal(counter.top("tony-allen", "all", 10, Date.now()).total, 8);
    assert.equal(feed.stats.contiguous, true);
    assert.ok(
      feed.stats.minEventAt !== undefined && feed.stats.minEventAt <= Date.now() - 11_000 + 1_000,
    );
    assert.equal(feed.problem, undefined);

    // Live: a new message arrives within the reader's wait.
    await produceRaw(topic, [JSON.stringify(songCompleted())], 2);
    await waitFor("the new message", () => feed.stats.read === 9, 10_000, 20);
  } finally {
    await feed.stop();
  }
});
