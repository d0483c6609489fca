import assert from "node:assert/strict";
import { createSongNames } from "../../shared/live/counting/song_names.ts";

Deno.test("createSongNames() keeps the latest play's name, in any order of plays", () => {
  const names = createSongNames();
  const plays = [
    { name: "lady", at: 5, id: "0000000a-0000-4000-8000-000000000000" },
    { name: "lady (remix)", at: 7, id: "0000000b-0000-4000-8000-000000000000" },
    { name: "Lady", at: 7, id: "0000000c-0000-4000-8000-000000000000" },
    { name: "old", at: 1, id: "ffffffff-0000-4000-8000-000000000000" },
  ];
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
    for (const i of order) names.offer(order[0]!, plays[i]!.name, plays[i]!.at, plays[i]!.id);
    assert.equal(names.name(order[0]!), "Lady", `order ${order}`);
    assert.equal(names.at(order[0]!), 7);
    assert.equal(names.id(order[0]!), "0000000c-0000-4000-8000-000000000000");
  }
  assert.equal(names.name(99), "");
});

Deno.test("createSongNames() reclaims the bytes of names that changed, and keeps every name", () => {
  const names = createSongNames();
  const songs = 2_000;
  for (let round = 0; round < 200; round++) {
    for (let serial = 0; serial < songs; serial++) {
      names.offer(serial, `song ${serial} — take ${round} ✓`, round, "a");
    }
  }
  for (let serial = 0; serial < songs; serial += 97) {
    assert.equal(names.name(serial), `song ${serial} — take 199 ✓`);
  }
  // 400,000 names written, about 26 bytes each: the arena stays a few live sets' size.
  assert.ok(names.bytes < 2_000_000, `${names.bytes} bytes`);
});
