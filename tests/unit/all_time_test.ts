import assert from "node:assert/strict";
import { createAllTimeCounts } from "../../shared/live/counting/all_time.ts";

const naming = (serial: number) => ({
  song_name: `song ${serial}`,
  at: 1_000 + serial,
  id: crypto.randomUUID(),
});

Deno.test("all-time counts reserved for a history take a quarter more, not double, on the next song", () => {
  const counts = createAllTimeCounts();
  const SONGS = 200_000;
  counts.reserve(SONGS);
  for (let song = 0; song < SONGS; song++) {
    const serial = counts.song(counts.artistId(`artist-${song % 20_000}`), song);
    counts.seed(serial, 1, naming(serial));
  }
  const reserved = counts.bytes;
  const next = counts.song(counts.artistId("someone-new"), 1);
  counts.add(next, 1, naming(next));
  assert.equal(counts.songs, SONGS + 1);
  assert.equal(counts.find(counts.artistId("someone-new"), 1), next);
  const ratio = counts.bytes / reserved;
  assert.ok(ratio > 1 && ratio < 1.3, `grew ${ratio.toFixed(2)}×`);
});
