import assert from "node:assert/strict";
import { compareSongs } from "../../shared/live/reconcile/reconcile.ts";
import { createPlayCounter } from "../../shared/live/counting/mod.ts";

const T0 = Date.UTC(2026, 0, 1, 12);

function play(artist: string, songId: number, at: number) {
  return {
    event_id: crypto.randomUUID(),
    user_id: 1,
    artist,
    song_id: songId,
    song_name: `song ${songId}`,
    event_type: "song_completed" as const,
    timestamp: new Date(at).toISOString(),
  };
}

Deno.test("compareSongs() on a counter: equal counts, then each kind of difference", () => {
  const counter = createPlayCounter({ now: T0 });
  for (let i = 0; i < 3; i++) counter.add(play("tony-allen", 1, T0 - 1_000));
  counter.add(play("tony-allen", 2, T0 - 1_000));
  counter.add(play("fela-kuti", 7, T0 - 1_000));
  const equal = compareSongs(counter.playsBySong("all", T0).plays, counter);
  equal.bigquery("fela-kuti", 7, 1);
  equal.bigquery("tony-allen", 2, 1);
  equal.bigquery("tony-allen", 1, 3);
  assert.deepEqual(equal.finish(), { dashboard: 5, bigquery: 5, different: 0, differences: [] });

  const differing = compareSongs(counter.playsBySong("5m", T0).plays, counter);
  differing.bigquery("tony-allen", 1, 4); // one more in BigQuery
  differing.bigquery("nobody", 1, 2); // an artist the dashboard never saw
  differing.bigquery("tony-allen", 3, 1); // a song of a known artist it never saw
  // fela-kuti/7 and tony-allen/2 are not in BigQuery's answer
  assert.deepEqual(differing.finish(), {
    dashboard: 5,
    bigquery: 7,
    different: 5,
    differences: [
      { artist: "nobody", song_id: 1, dashboard: 0, bigquery: 2 },
      { artist: "fela-kuti", song_id: 7, dashboard: 1, bigquery: 0 },
      { artist: "tony-allen", song_id: 1, dashboard: 3, bigquery: 4 },
      { artist: "tony-allen", song_id: 2, dashboard: 1, bigquery: 0 },
      { artist: "tony-allen", song_id: 3, dashboard: 0, bigquery: 1 },
    ],
  });
});

Deno.test("compareSongs() counts every difference and keeps the 20 largest, ties by artist and song", () => {
  const counter = createPlayCounter({ now: T0 });
  for (let song = 1; song <= 1_000; song++) {
    counter.add(play(`artist-${song % 7}`, song, T0 - 1_000));
  }
  const comparison = compareSongs(counter.playsBySong("1h", T0).plays, counter);
  // BigQuery has every song once more than the dashboard, and song 500 ten more.
  for (let song = 1_000; song >= 1; song--) {
    comparison.bigquery(`artist-${song % 7}`, song, song === 500 ? 11 : 2);
  }
  const found = comparison.finish();
  assert.equal(found.different, 1_000);
  assert.equal(found.dashboard, 1_000);
  assert.equal(found.bigquery, 999 * 2 + 11);
  assert.equal(found.differences.length, 20);
  assert.deepEqual(found.differences[0], {
    artist: "artist-3",
    song_id: 500,
    dashboard: 1,
    bigquery: 11,
  });
  const expected = Array.from({ length: 1_000 }, (_, i) => i + 1).filter((song) => song !== 500)
    .map((song) => ({ artist: `artist-${song % 7}`, song_id: song }))
    .sort((a, b) => (a.artist < b.artist ? -1 : a.artist > b.artist ? 1 : a.song_id - b.song_id))
    .slice(0, 19);
  assert.deepEqual(
    found.differences.slice(1).map(({ artist, song_id }) => ({ artist, song_id })),
    expected,
  );
});
