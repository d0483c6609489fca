import assert from "node:assert/strict";
import { buildCatalog } from "../../shared/produce/catalog.ts";
import { parseEvent } from "../../shared/event.ts";
import {
  createSimulator,
  eventsDue,
  prng,
  type SimulatorOptions,
} from "../../shared/produce/simulator.ts";

const catalog = buildCatalog();
const NOW = new Date("2026-11-24T19:22:13.000Z");

function draws(options: SimulatorOptions, n: number) {
  let id = 0;
  const next = createSimulator({
    catalog,
    now: () => NOW,
    newId: () => `00000000-0000-4000-8000-${String(id++).padStart(12, "0")}`,
    ...options,
  });
  return Array.from({ length: n }, () => next());
}

function plays(events: { artist: string; song_id: number; user_id: number }[]) {
  return events.map((event) => `${event.artist}/${event.song_id}/${event.user_id}`);
}

Deno.test("prng() is reproducible and stays in [0, 1)", () => {
  const a = prng(42);
  const b = prng(42);
  const c = prng(43);
  const fromA = Array.from({ length: 1_000 }, a);
  assert.deepEqual(Array.from({ length: 1_000 }, b), fromA);
  assert.notDeepEqual(Array.from({ length: 1_000 }, c), fromA);
  assert.ok(fromA.every((u) => u >= 0 && u < 1));
  const mean = fromA.reduce((sum, u) => sum + u, 0) / fromA.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

Deno.test("createSimulator() with the same seed plays the same sequence", () => {
  const first = draws({ seed: 7 }, 500);
  const second = draws({ seed: 7 }, 500);
  assert.deepEqual(plays(first), plays(second));
  assert.notDeepEqual(plays(draws({ seed: 8 }, 500)), plays(first));
});

Deno.test("createSimulator() uses the given clock and id source", () => {
  const [event] = draws({ seed: 1 }, 1);
  assert.equal(event!.timestamp, NOW.toISOString());
  assert.equal(event!.event_id, "00000000-0000-4000-8000-000000000000");
});

Deno.test("createSimulator() makes valid events from the catalog", () => {
  const songs = new Map(
    catalog.flatMap((artist) =>
      artist.songs.map((song) => [`${artist.slug}/${song.song_id}`, song.song_name] as const)
    ),
  );
  const next = createSimulator({ seed: 3, catalog, listeners: 5_000 });
  const ids = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const event = next();
    assert.deepEqual(parseEvent(event), event);
    assert.equal(songs.get(`${event.artist}/${event.song_id}`), event.song_name);
    assert.ok(event.user_id >= 1_000 && event.user_id < 6_000, `user ${event.user_id}`);
    ids.add(event.event_id);
  }
  assert.equal(ids.size, 2_000, "event ids are unique by default");
});

Deno.test("createSimulator() plays only the chosen artist", () => {
  const events = draws({ seed: 5, artist: "tony-allen" }, 2_000);
  assert.ok(events.every((event) => event.artist === "tony-allen"));
  // Every one of the ten songs gets played, the first most often.
  const counts = new Map<number, number>();
  for (const event of events) counts.set(event.song_id, (counts.get(event.song_id) ?? 0) + 1);
  assert.equal(counts.size, 10);
  assert.equal(Math.max(...counts.values()), counts.get(1));
  const other = catalog[3]!.slug;
  assert.ok(draws({ seed: 5, artist: other }, 200).every((event) => event.artist === other));
});

Deno.test("createSimulator() rejects an unknown artist", () => {
  assert.throws(() => createSimulator({ artist: "nobody-here", catalog }), {
    message: new RegExp(
      `^Unknown artist "nobody-here": expected a catalog slug such as tony-allen, ${
        catalog[1]!.slug
      },`,
    ),
  });
});

Deno.test("createSimulator() plays Tony Allen the most", () => {
  const counts = new Map<string, number>();
  for (const event of draws({ seed: 11 }, 20_000)) {
    counts.set(event.artist, (counts.get(event.artist) ?? 0) + 1);
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1]);
  assert.equal(ranked[0]![0], "tony-allen");
  assert.ok(ranked[0]![1] > 1.5 * ranked[1]![1], JSON.stringify(ranked.slice(0, 3)));
  assert.equal(counts.size, catalog.length, "the long tail gets played too");
});

Deno.test("eventsDue() counts events due at a rate, never negative", () => {
  assert.equal(eventsDue(1_500, 10, 12), 3);
  assert.equal(eventsDue(0, 10, 0), 0);
  assert.equal(eventsDue(99, 10, 0), 0);
  assert.equal(eventsDue(100, 10, 0), 1);
  assert.equal(eventsDue(1_000, 10, 15), 0);
  assert.equal(eventsDue(250, 200, 0), 50);
  assert.equal(eventsDue(10, 0.5, 0), 0);
  assert.equal(eventsDue(2_000, 0.5, 0), 1);
});

Deno.test("eventsDue() has no limit at rate 0", () => {
  assert.equal(eventsDue(0, 0, 1_000_000), Number.POSITIVE_INFINITY);
});
