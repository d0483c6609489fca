import assert from "node:assert/strict";
import type { SongCompleted } from "../../shared/event.ts";
import {
  compareSongs,
  createPlayCounter,
  isWindowName,
  pointOf,
  rankChange,
  seriesLayout,
  WINDOW_NAMES,
  windowStart,
} from "../../shared/live/counting/windows.ts";

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

let serial = 0;
function play(
  at: number,
  overrides: Partial<SongCompleted> = {},
): SongCompleted {
  serial++;
  return {
    event_id: `00000000-0000-4000-8000-${serial.toString(16).padStart(12, "0")}`,
    user_id: 1,
    artist: "tony-allen",
    song_id: 1,
    song_name: "zombie",
    event_type: "song_completed",
    timestamp: new Date(at).toISOString(),
    ...overrides,
  };
}

function plays(
  counter: ReturnType<typeof createPlayCounter>,
  window: "5m" | "1h" | "24h" | "all",
  now: number,
) {
  return counter.top("tony-allen", window, 100, now).songs.map((s) => [s.song_id, s.plays]);
}

Deno.test("windowStart() aligns each window to its bucket and stays within its length", () => {
  const now = T0 + 12_345;
  assert.equal(windowStart("5m", now), T0 + 13_000 - 5 * MINUTE);
  assert.equal(windowStart("1h", now), T0 + 20_000 - HOUR);
  assert.equal(windowStart("24h", now), T0 + MINUTE - 24 * HOUR);
  assert.equal(windowStart("all", now), undefined);
  assert.equal(windowStart("5m", T0), T0 - 5 * MINUTE, "exact on a boundary");
  for (const window of ["5m", "1h", "24h"] as const) {
    for (let now = T0; now < T0 + 2 * MINUTE; now += 777) {
      const from = windowStart(window, now)!;
      assert.ok(from >= now - { "5m": 5 * MINUTE, "1h": HOUR, "24h": 24 * HOUR }[window]);
    }
  }
});

Deno.test("isWindowName() accepts exactly the four windows", () => {
  assert.deepEqual(WINDOW_NAMES, ["5m", "1h", "24h", "all"]);
  assert.ok(isWindowName("24h"));
  assert.ok(!isWindowName("2h"));
  assert.ok(!isWindowName(""));
});

Deno.test("createPlayCounter() counts a play in every window covering its event time", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - 10 * SECOND, { song_id: 1 }));
  counter.add(play(T0 - 10 * MINUTE, { song_id: 2, song_name: "lady" }));
  counter.add(play(T0 - 3 * HOUR, { song_id: 3, song_name: "secret-agent" }));
  counter.add(play(T0 - 3 * 24 * HOUR, { song_id: 4, song_name: "kindness" }));
  assert.deepEqual(plays(counter, "5m", T0), [[1, 1]]);
  assert.deepEqual(plays(counter, "1h", T0), [[1, 1], [2, 1]]);
  assert.deepEqual(plays(counter, "24h", T0), [[1, 1], [2, 1], [3, 1]]);
  assert.deepEqual(plays(counter, "all", T0), [[1, 1], [2, 1], [3, 1], [4, 1]]);
});

Deno.test("createPlayCounter() evicts plays as the wall clock moves, without new events", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - 4 * MINUTE));
  counter.add(play(T0 - 1 * MINUTE));
  assert.equal(counter.top("tony-allen", "5m", 10, T0).total, 2);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 59 * SECOND).total, 2);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 60 * SECOND + 1).total, 1);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 4 * MINUTE + 1).total, 0);
  assert.equal(counter.top("tony-allen", "1h", 10, T0 + 4 * MINUTE + 1).total, 2);
  assert.equal(counter.top("tony-allen", "all", 10, T0 + 100 * HOUR).total, 2);
  assert.equal(counter.top("tony-allen", "24h", 10, T0 + 100 * HOUR).total, 0);
  assert.equal(counter.stats.buckets, 0, "every bucket released");
});

Deno.test("createPlayCounter() keeps a play exactly while from <= its time", () => {
  const counter = createPlayCounter({ now: T0 });
  const at = T0 + 500; // inside the bucket starting at T0
  counter.add(play(at));
  // from(5m) = ceil((now - 5m) / 1s) * 1s: T0 until now passes T0 + 5m.
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 5 * MINUTE).total, 1);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 5 * MINUTE + 1).total, 0);
  // BigQuery's `timestamp >= from` agrees: from is then T0 + 1 s > at.
  assert.ok(windowStart("5m", T0 + 5 * MINUTE + 1)! > at);
});

Deno.test("createPlayCounter() places late plays by event time, not arrival", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - 2 * HOUR), T0); // read two hours after it happened
  assert.equal(counter.top("tony-allen", "1h", 10, T0).total, 0);
  assert.equal(counter.top("tony-allen", "24h", 10, T0).total, 1);
  // A play older than a window's start when it arrives never enters that window.
  counter.advance(T0 + 10 * MINUTE);
  counter.add(play(T0 + 10 * MINUTE - 6 * MINUTE), T0 + 10 * MINUTE);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 10 * MINUTE).total, 0);
  assert.equal(counter.top("tony-allen", "1h", 10, T0 + 10 * MINUTE).total, 1);
});

Deno.test("createPlayCounter() counts plays later than the allowed lateness in all time only", () => {
  const counter = createPlayCounter({ now: T0, allowedLatenessMs: 30 * MINUTE });
  assert.equal(counter.add(play(T0 - 29 * MINUTE), T0), "counted");
  assert.equal(counter.add(play(T0 - 31 * MINUTE), T0), "late");
  assert.equal(counter.add(play(T0 - 31 * MINUTE)), "counted", "no record time: not late");
  assert.equal(counter.top("tony-allen", "1h", 10, T0).total, 2);
  assert.equal(counter.top("tony-allen", "all", 10, T0).total, 3);
  assert.equal(counter.stats.late, 1);
});

Deno.test("createPlayCounter() default lateness never hides a play inside a window", () => {
  const counter = createPlayCounter({ now: T0 });
  // Read 24 h minus a bit after it happened: still inside the 24 h window.
  counter.add(play(T0 - 24 * HOUR + 30 * SECOND), T0);
  assert.equal(counter.top("tony-allen", "24h", 10, T0).total, 1);
  // Read more than 24 h after: outside every finite window anyway.
  assert.equal(counter.add(play(T0 - 24 * HOUR - 1), T0), "late");
  assert.equal(counter.top("tony-allen", "24h", 10, T0).total, 1);
  assert.equal(counter.top("tony-allen", "all", 10, T0).total, 2);
});

Deno.test("createPlayCounter() counts a duplicate event id once", () => {
  const counter = createPlayCounter({ now: T0 });
  const event = play(T0 - SECOND);
  assert.equal(counter.add(event), "counted");
  assert.equal(counter.add(event), "duplicate");
  assert.equal(counter.add({ ...event, song_id: 2 }), "duplicate", "same id, whatever else");
  for (const window of WINDOW_NAMES) {
    assert.equal(counter.top("tony-allen", window, 10, T0).total, 1, window);
  }
  assert.equal(counter.stats.duplicates, 2);
});

Deno.test("createPlayCounter() keeps future plays in the window until they age out", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 + 2 * SECOND)); // a producer whose clock runs ahead
  assert.equal(counter.top("tony-allen", "5m", 10, T0).total, 1);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 5 * MINUTE + 2 * SECOND).total, 1);
  assert.equal(counter.top("tony-allen", "5m", 10, T0 + 5 * MINUTE + 3 * SECOND + 1).total, 0);
});

Deno.test("top() orders by plays, then song id, and limits after counting the total", () => {
  const counter = createPlayCounter({ now: T0 });
  const counts: [number, number][] = [[5, 3], [2, 3], [9, 1], [1, 2], [7, 3]];
  for (const [song, n] of counts) {
    for (let i = 0; i < n; i++) {
      counter.add(play(T0 - SECOND, { song_id: song, song_name: `s${song}` }));
    }
  }
  const top = counter.top("tony-allen", "5m", 4, T0);
  assert.deepEqual(top.songs.map((s) => [s.song_id, s.plays]), [[2, 3], [5, 3], [7, 3], [1, 2]]);
  assert.equal(top.total, 12, "total covers songs beyond the limit");
  assert.equal(
    compareSongs({ song_id: 1, song_name: "b", plays: 1 }, {
      song_id: 2,
      song_name: "a",
      plays: 1,
    }),
    -1,
  );
});

Deno.test("top() keeps artists apart and answers an unknown artist with nothing", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - SECOND, { artist: "fela-kuti", song_id: 1, song_name: "zombie" }));
  counter.add(play(T0 - SECOND));
  counter.add(play(T0 - SECOND));
  assert.equal(counter.top("tony-allen", "5m", 10, T0).total, 2);
  assert.equal(counter.top("fela-kuti", "5m", 10, T0).total, 1);
  const nobody = counter.top("nobody", "all", 10, T0);
  assert.deepEqual([nobody.total, nobody.songs, nobody.lastEventAt], [0, [], undefined]);
  assert.deepEqual(counter.artists(), [
    { artist: "tony-allen", plays: 2 },
    { artist: "fela-kuti", plays: 1 },
  ]);
});

Deno.test("top() reports the latest song name, the last event time and the rate", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - 30 * SECOND, { song_name: "old-name" }));
  counter.add(play(T0 - 10 * SECOND, { song_name: "new-name" }));
  counter.add(play(T0 - 20 * SECOND, { song_name: "older-name" }));
  counter.add(play(T0 - 2 * MINUTE)); // outside the rate's last minute
  const top = counter.top("tony-allen", "5m", 10, T0);
  assert.equal(top.songs[0]!.song_name, "new-name");
  assert.equal(top.lastEventAt, T0 - 10 * SECOND);
  assert.equal(top.playsPerSecond, 3 / 60);
});

Deno.test("counts() lists every song with plays, keyed artist/song_id", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - SECOND, { song_id: 3 }));
  counter.add(play(T0 - 2 * HOUR, { artist: "fela-kuti", song_id: 3 }));
  const hour = counter.counts("1h", T0);
  assert.equal(hour.from, windowStart("1h", T0));
  assert.deepEqual([...hour.plays], [["tony-allen/3", 1]]);
  assert.deepEqual([...counter.counts("all", T0).plays].sort(), [
    ["fela-kuti/3", 1],
    ["tony-allen/3", 1],
  ]);
});

Deno.test("createPlayCounter() stays small for a million plays", () => {
  const counter = createPlayCounter({ now: T0 });
  for (let i = 0; i < 1_000_000; i++) {
    counter.add({
      event_id: crypto.randomUUID(),
      user_id: 1,
      artist: `artist-${i % 25}`,
      song_id: i % 11,
      song_name: `song-${i % 11}`,
      event_type: "song_completed",
      timestamp: new Date(T0 - (i % 86_400) * SECOND).toISOString(),
    });
  }
  assert.equal(counter.top("artist-0", "all", 10, T0).total, 40_000);
  // State is counts per bucket, not per play: 16 bytes a play for dedup
  // (the plays read within the horizon; here the clock never moves), and
  // at most 300 + 360 + 1440 buckets (each plus the current one), and the
  // previous period of 5m and 1h, whatever the number of plays.
  const stats = counter.stats;
  assert.equal(stats.dedupBytes, 2 ** 21 * 8 + 16 * 8);
  assert.equal(stats.buckets, 601 + 721 + 1_441);
  assert.equal(stats.songs, 25 * 11);
  // Once the horizon has passed twice, the ids are gone.
  counter.advance(T0 + 10 * MINUTE);
  counter.advance(T0 + 20 * MINUTE);
  assert.equal(counter.stats.dedupIds, 0);
});

Deno.test("createPlayCounter() remembers ids for the dedup horizon, not forever", () => {
  const counter = createPlayCounter({ now: T0, dedupHorizonMs: MINUTE });
  const event = play(T0 - SECOND);
  assert.equal(counter.add(event), "counted");
  counter.advance(T0 + MINUTE);
  assert.equal(counter.add(event), "duplicate", "still within the horizon");
  counter.advance(T0 + 2 * MINUTE);
  assert.equal(counter.add(event), "counted", "re-sent after twice the horizon");
  assert.equal(counter.stats.duplicates, 1);
});

Deno.test("seedSong() and seedBucket() add BigQuery's history to live plays", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.seedSong({
    artist: "tony-allen",
    song_id: 1,
    song_name: "zombie",
    plays: 40,
    latestAt: T0 - 2 * MINUTE,
  });
  counter.seedBucket("5m", { artist: "tony-allen", song_id: 1 }, T0 - 2 * MINUTE, 3);
  counter.seedBucket("1h", { artist: "tony-allen", song_id: 1 }, T0 - 2 * MINUTE, 3);
  counter.seedBucket("24h", { artist: "tony-allen", song_id: 1 }, T0 - 2 * MINUTE, 3);
  counter.seedBucket("5m", { artist: "tony-allen", song_id: 1 }, T0 - 6 * MINUTE, 9); // gone
  counter.add(play(T0 - SECOND));
  assert.deepEqual(plays(counter, "5m", T0), [[1, 4]]);
  assert.deepEqual(plays(counter, "24h", T0), [[1, 4]]);
  assert.deepEqual(plays(counter, "all", T0), [[1, 41]]);
  assert.deepEqual(counter.artists(), [{ artist: "tony-allen", plays: 41 }]);
  assert.equal(counter.stats.seeded, 40);
  // Seeded buckets age out like counted ones.
  assert.deepEqual(plays(counter, "5m", T0 + 4 * MINUTE), [[1, 1]]);
  assert.deepEqual(plays(counter, "1h", T0 + 4 * MINUTE), [[1, 4]]);
});

Deno.test("the latest play names a song, ties broken by the name that sorts last, in any order", () => {
  const at = T0 - MINUTE;
  const names = [
    { name: "a-name", id: "00000000-0000-4000-8000-00000000000b" },
    { name: "b-name", id: "00000000-0000-4000-8000-00000000000a" },
  ];
  for (const order of [names, [...names].reverse()]) {
    const counter = createPlayCounter({ now: T0 });
    for (const { name, id } of order) {
      counter.add({ ...play(at), event_id: id, song_name: name });
    }
    counter.seedSong({
      artist: "tony-allen",
      song_id: 1,
      song_name: "z-older",
      plays: 1,
      latestAt: at - 1,
    });
    assert.equal(counter.top("tony-allen", "all", 1, T0).songs[0]!.song_name, "b-name");
  }
});

Deno.test("seriesLayout() gives at most 60 points covering each finite window", () => {
  for (const window of ["5m", "1h", "24h"] as const) {
    for (const now of [T0, T0 + 1_234, T0 + 59_999]) {
      const layout = seriesLayout(window, now);
      assert.ok(layout.points <= 60, `${window} ${layout.points}`);
      assert.ok(layout.from <= windowStart(window, now)!);
      assert.ok(layout.from + layout.pointMs > windowStart(window, now)!);
      assert.ok(layout.from + layout.points * layout.pointMs > now);
      assert.equal(layout.from % layout.pointMs, 0, "aligned: points do not move as time passes");
    }
  }
});

Deno.test("pointOf() and rankChange() are pure", () => {
  const layout = { from: 0, pointMs: 5, points: 2 };
  assert.deepEqual([-1, 0, 4, 5, 50].map((start) => pointOf(layout, start)), [-1, 0, 0, 1, 1]);
  assert.deepEqual(
    [rankChange(1, 3), rankChange(3, 1), rankChange(2, 2), rankChange(1, undefined)],
    [
      2,
      -2,
      0,
      "new",
    ],
  );
});

Deno.test("trends() gives each song's series and its rank in the period before", () => {
  const counter = createPlayCounter({ now: T0 });
  // Previous 5 minutes (before the window's start): song 1 leads, then 2.
  const from = windowStart("5m", T0)!;
  for (let i = 0; i < 3; i++) counter.add(play(from - 60 * SECOND + i, { song_id: 1 }));
  counter.add(play(from - 30 * SECOND, { song_id: 2 }));
  // In the window: song 2 overtakes, song 3 is new.
  for (let i = 0; i < 4; i++) counter.add(play(T0 - 10 * SECOND + i, { song_id: 2 }));
  counter.add(play(T0 - 2 * MINUTE, { song_id: 1 }));
  counter.add(play(T0 - MINUTE, { song_id: 3 }));
  counter.add(play(T0 - 5 * SECOND, { artist: "fela-kuti", song_id: 2 }));
  assert.deepEqual(plays(counter, "5m", T0), [[2, 4], [1, 1], [3, 1]]);

  const trends = counter.trends("tony-allen", "5m", T0, [1, 2, 3])!;
  assert.deepEqual([...trends.previousRanks!], [[1, 1], [2, 2]]);
  const ranks = trends.previousRanks!;
  assert.deepEqual([
    rankChange(1, ranks.get(2)),
    rankChange(2, ranks.get(1)),
    rankChange(3, ranks.get(3)),
  ], [
    1,
    -1,
    "new",
  ]);
  const { layout } = trends;
  const sum = (values: number[] | undefined) => (values ?? []).reduce((a, b) => a + b, 0);
  assert.deepEqual([1, 2, 3].map((id) => sum(trends.series.get(id))), [1, 4, 1], "window only");
  assert.equal(sum(trends.total), 6, "the artist's plays, all songs");
  assert.equal(trends.total.length, layout.points);
  const series2 = trends.series.get(2)!;
  assert.equal(series2.length, layout.points);
  assert.equal(series2[Math.floor((T0 - 10 * SECOND - layout.from) / layout.pointMs)]! > 0, true);

  // 24 hours keeps no previous day, all time has no series.
  assert.equal(counter.trends("tony-allen", "24h", T0, [1, 2, 3])!.previousRanks, undefined);
  assert.equal(counter.trends("tony-allen", "all", T0, [1, 2, 3]), undefined);
  // As time passes, plays leave the window and the previous period alike.
  const later = counter.trends("tony-allen", "5m", T0 + 20 * MINUTE, [1, 2, 3])!;
  assert.deepEqual([later.series.size, later.previousRanks!.size], [0, 0]);
  assert.equal(counter.stats.buckets > 0, true);
  counter.advance(T0 + 2 * 24 * HOUR);
  assert.equal(counter.stats.buckets, 0);
});

Deno.test("trends() knows no previous period before a full one was read", () => {
  const counter = createPlayCounter({ now: T0, completeFrom: T0 - MINUTE });
  counter.add(play(T0 - SECOND));
  assert.equal(counter.trends("tony-allen", "5m", T0, [1, 2, 3])!.previousRanks, undefined);
  assert.equal(counter.trends("tony-allen", "1h", T0, [1, 2, 3])!.previousRanks, undefined);
  assert.notEqual(
    counter.trends("tony-allen", "5m", T0 + 9 * MINUTE, [1, 2, 3])!.previousRanks,
    undefined,
  );
  // By default the counter holds its previous periods from the start (BigQuery's history).
  const seeded = createPlayCounter({ now: T0 });
  assert.notEqual(seeded.trends("tony-allen", "5m", T0, [1, 2, 3])!.previousRanks, undefined);
  assert.notEqual(seeded.trends("tony-allen", "1h", T0, [1, 2, 3])!.previousRanks, undefined);
});

Deno.test("createPlayCounter() evicts songs and artists once no window holds their plays", () => {
  const counter = createPlayCounter({ now: T0 });
  for (let artist = 0; artist < 50; artist++) {
    for (let song = 0; song < 20; song++) {
      counter.add(play(T0 - 30 * MINUTE, { artist: `artist-${artist}`, song_id: song }));
    }
  }
  counter.add(play(T0, { artist: "tony-allen", song_id: 1 }));
  counter.advance(T0);
  assert.equal(counter.stats.songs, 1_001);
  assert.equal(counter.stats.artists, 51);
  // 24 hours and a bit later only the play of the next day is held.
  const later = T0 + 24 * HOUR + 45 * MINUTE;
  counter.add(play(later, { artist: "tony-allen", song_id: 2, song_name: "secret-agent" }));
  counter.advance(later);
  assert.equal(counter.stats.songs, 1);
  assert.equal(counter.stats.artists, 1);
  assert.equal(counter.stats.evictedSongs, 1_001);
  assert.equal(counter.stats.allTimeSongs, 1_002);
  assert.equal(counter.stats.allTimeArtists, 51);
  // All time is still every play, with the names of each artist's top songs.
  const allTime = [...counter.counts("all", later).plays.values()].reduce((a, b) => a + b, 0);
  assert.equal(allTime, 1_002);
  assert.deepEqual(counter.top("artist-7", "all", 2, later).songs, [
    { song_id: 0, song_name: "zombie", plays: 1 },
    { song_id: 1, song_name: "zombie", plays: 1 },
  ]);
  assert.equal(counter.top("artist-7", "24h", 10, later).total, 0);
  assert.equal(counter.counts("all", later).plays.size, 1_002);
  assert.equal(counter.counts("24h", later).plays.size, 1);
  // An evicted song played again is counted from zero in the windows, on top of its all time.
  counter.add(play(later, { artist: "artist-7", song_id: 3, song_name: "third" }));
  assert.deepEqual(counter.top("artist-7", "5m", 10, later).songs, [
    { song_id: 3, song_name: "third", plays: 1 },
  ]);
  assert.deepEqual(counter.top("artist-7", "all", 1, later).songs, [
    { song_id: 3, song_name: "third", plays: 2 },
  ]);
  assert.equal(counter.stats.songs, 2);
});

Deno.test("createPlayCounter() does not hold a song whose only play is older than every window", () => {
  const counter = createPlayCounter({ now: T0 });
  counter.add(play(T0 - 30 * HOUR, { song_id: 9 }));
  counter.seedBucket("24h", { artist: "fela-kuti", song_id: 1 }, T0 - 30 * HOUR, 4);
  assert.equal(counter.stats.songs, 0);
  assert.equal(counter.stats.artists, 0);
  assert.deepEqual(plays(counter, "all", T0), [[9, 1]]);
});

Deno.test("createPlayCounter() reuses evicted slots: memory follows what the windows hold", () => {
  const counter = createPlayCounter({ now: T0 });
  let at = T0;
  for (let round = 0; round < 30; round++) {
    for (let song = 0; song < 1_000; song++) {
      counter.add(play(at, { artist: `artist-${round}-${song % 100}`, song_id: song }));
    }
    at += 2 * HOUR;
    counter.advance(at);
  }
  // 30 rounds of 1,000 new songs two hours apart: only the last 12 rounds are held.
  assert.ok(counter.stats.songs <= 12_000, `${counter.stats.songs} songs held`);
  assert.equal(counter.stats.allTimeSongs, 30_000);
  assert.equal(counter.stats.allTimeArtists, 3_000);
});

Deno.test("overview() kept on each play equals every artist's top(), as plays age out", () => {
  const counter = createPlayCounter({ now: T0 });
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  let now = T0;
  for (let step = 0; step < 60; step++) {
    for (let n = 0; n < 200; n++) {
      const artist = `artist-${step + random(10)}`; // the artists played drift over time
      const songId = random(8);
      counter.add(
        play(now - random(3 * HOUR), { artist, song_id: songId, song_name: `s${songId}` }),
      );
    }
    now += (step % 2 === 0 ? 2 * MINUTE : 77 * MINUTE) + random(60) * SECOND;
    for (const window of WINDOW_NAMES) {
      const overview = counter.overview(window, now)
        .sort((a, b) => a.artist < b.artist ? -1 : 1);
      const expected = counter.artists().map(({ artist }) => counter.top(artist, window, 1, now))
        .filter((top) => top.total > 0)
        .map((top) => ({ artist: top.artist, total: top.total, top: top.songs[0] ?? null }))
        .sort((a, b) => a.artist < b.artist ? -1 : 1);
      assert.deepEqual(overview, expected, `${window} at step ${step}`);
    }
  }
  assert.ok(counter.stats.evictedSongs > 0, "songs were evicted on the way");
});

Deno.test("trends() and plays per second of one artist are the same whether buckets are read whole or their songs looked up", () => {
  const counter = createPlayCounter({ now: T0 });
  const from = windowStart("5m", T0)!;
  for (let i = 0; i < 3; i++) counter.add(play(from - 60 * SECOND + i, { song_id: 1 }));
  for (let i = 0; i < 4; i++) counter.add(play(T0 - 10 * SECOND + i, { song_id: 2 }));
  counter.add(play(T0 - 30 * SECOND, { song_id: 3 }));
  const seen = () => {
    const trends = counter.trends("tony-allen", "5m", T0, [1, 2, 3])!;
    return {
      series: [...trends.series],
      total: trends.total,
      previous: [...trends.previousRanks!],
      perSecond: counter.top("tony-allen", "5m", 10, T0).playsPerSecond,
    };
  };
  const alone = seen(); // few entries: the buckets are read whole
  // A crowd in the same buckets: now far more entries than tony-allen's
  // songs times the buckets, so each of those songs is looked up.
  for (let artist = 0; artist < 500; artist++) {
    for (const at of [from - 60 * SECOND, T0 - 10 * SECOND, T0 - 30 * SECOND]) {
      counter.add(play(at, { artist: `crowd-${artist}`, song_id: 1 + (artist % 7) }));
    }
  }
  assert.deepEqual(seen(), alone);
  assert.equal(alone.perSecond, 5 / 60);
});

Deno.test("reserve() before a history changes no count: the same as growing while it comes", () => {
  const seeded = (reserve: boolean) => {
    const counter = createPlayCounter({ now: T0 });
    // A live play first, so room is made beyond what is already held.
    counter.add(play(T0 - MINUTE, { artist: "artist-0", song_id: 1 }), T0);
    const songs = 5_000; // past the 1,024 the buffers start with
    if (reserve) counter.reserve(songs, songs);
    for (let i = 0; i < songs; i++) {
      const song = { artist: `artist-${i % 700}`, song_id: 1 + Math.floor(i / 700) };
      counter.seedSong({
        ...song,
        song_name: `song ${i}`,
        plays: 1 + (i % 7),
        latestAt: T0 - 2 * MINUTE,
      });
      counter.seedBucket("24h", song, T0 - (1 + (i % 50)) * MINUTE, 1 + (i % 3));
      if (i % 4 === 0) counter.seedBucket("5m", song, T0 - 3 * MINUTE, 1);
    }
    counter.add(play(T0 - 30 * SECOND, { artist: "artist-3", song_id: 2 }), T0);
    return ["artist-0", "artist-3", "artist-699"].flatMap((artist) =>
      (["5m", "1h", "24h", "all"] as const).map((window) => counter.top(artist, window, 10, T0))
    );
  };
  const grown = seeded(false);
  assert.deepEqual(seeded(true), grown);
  assert.ok(grown.some((top) => top.total > 0));
});

Deno.test("trends() builds series and ranks for the songs asked only, ranked among all the artist's", () => {
  const counter = createPlayCounter({ now: T0 });
  const from = windowStart("5m", T0)!;
  // The period before: songs 1..200 with 200..1 plays (song 1 first).
  for (let song = 1; song <= 200; song++) {
    for (let i = 0; i <= 200 - song; i++) counter.add(play(from - 60 * SECOND, { song_id: song }));
  }
  // In the window: every song once, song 150 ten times.
  for (let song = 1; song <= 200; song++) counter.add(play(T0 - 10 * SECOND, { song_id: song }));
  for (let i = 0; i < 9; i++) counter.add(play(T0 - 5 * SECOND, { song_id: 150 }));
  const trends = counter.trends("tony-allen", "5m", T0, [150, 3, 999])!;
  assert.deepEqual([...trends.series.keys()].sort((a, b) => a - b), [3, 150]);
  assert.equal(trends.series.get(150)!.reduce((a, b) => a + b, 0), 10);
  assert.equal(trends.total.reduce((a, b) => a + b, 0), 209, "all songs in the total");
  assert.deepEqual([...trends.previousRanks!], [[150, 150], [3, 3]]);
  assert.equal(counter.trends("nobody", "5m", T0, [1])!.total.reduce((a, b) => a + b, 0), 0);
});
