import assert from "node:assert/strict";
import { createSongNames } from "../../shared/live/counting/song_names.ts";
import { fixedIntegers } from "../support/seed.ts";

Deno.test("createSongNames() keeps the latest play's name, in any order of plays", () => {
  const names = createSongNames();
  const plays = [
    { name: "lady", at: 5 },
    { name: "Lady", at: 7 },
    { name: "lady (remix)", at: 7 },
    { name: "old", at: 1 },
  ];
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
    for (const i of order) names.offer(order[0]!, plays[i]!.name, plays[i]!.at);
    // At 7, "lady (remix)" sorts after "Lady" ("l" is 0x6c, "L" 0x4c).
    assert.equal(names.name(order[0]!), "lady (remix)", `order ${order}`);
    assert.equal(names.at(order[0]!), 7);
  }
  assert.equal(names.name(99), "");
});

Deno.test("createSongNames() picks what the latest key (time, then UTF-8 bytes) picks, whatever the order", () => {
  const pool = ["a", "b", "ab", "", "é", "ｚ", "😀", "\uffff", "z", "a\u0000", "Ab", "😀b"].filter((
    n,
  ) => n);
  const random = fixedIntegers(9);
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const compareBytes = (a: Uint8Array, b: Uint8Array) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  };
  const names = createSongNames();
  let ties = 0;
  for (let serial = 0; serial < 3_000; serial++) {
    const plays = Array.from({ length: 1 + random(6) }, () => ({
      name: pool[random(pool.length)]!,
      at: random(4),
    }));
    let best = plays[0]!;
    for (const play of plays) {
      const order = play.at - best.at || compareBytes(utf8(play.name), utf8(best.name));
      if (order > 0) best = play;
    }
    if (plays.filter((play) => play.at === best.at).length > 1) ties++;
    for (const play of plays) names.offer(serial, play.name, play.at);
    assert.equal(names.name(serial), best.name, JSON.stringify(plays));
    assert.equal(names.at(serial), best.at);
  }
  assert.ok(ties > 500, `${ties} songs with plays at the same time`);
});

Deno.test("createSongNames() reclaims the bytes of names that changed, and keeps every name", () => {
  const names = createSongNames();
  const songs = 2_000;
  for (let round = 0; round < 200; round++) {
    for (let serial = 0; serial < songs; serial++) {
      names.offer(serial, `song ${serial} — take ${round} ✓`, round);
    }
  }
  for (let serial = 0; serial < songs; serial += 97) {
    assert.equal(names.name(serial), `song ${serial} — take 199 ✓`);
  }
  // 400,000 names written, about 26 bytes each: the arena stays a few live sets' size.
  assert.ok(names.bytes < 2_000_000, `${names.bytes} bytes`);
});
