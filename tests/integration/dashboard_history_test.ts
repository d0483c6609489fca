// BigQuery's history below the anchors, against the local emulator: rows
// written with SQL at known partitions and offsets, so every expectation is
// exact. All time asked as a change since earlier anchors must equal all time
// asked in full; windows are bucketed like the counter's.

import assert from "node:assert/strict";
import { test } from "../support/integration.ts";
import { ensurePlaysTable } from "../../shared/bigquery/warehouse.ts";
import type { PartitionAnchor } from "../../shared/live/feed/anchors.ts";
import {
  type HistoryRequest,
  type HistorySink,
  loadHistory,
  seedCounter,
} from "../../shared/live/feed/history.ts";
import {
  createPlayCounter,
  heldFrom,
  type PlayCounter,
  type SongHistory,
  WINDOWS,
} from "../../shared/live/counting/windows.ts";
import { openWarehouse, type Warehouse } from "../../shared/bigquery/warehouse.ts";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { query, sleep, uniqueName, waitFor, warehouseFor } from "../support/harness.ts";
import { startBigQueryStandIn } from "../support/dashboard.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Row {
  id: string;
  artist: string;
  song: number;
  name: string;
  at: number;
  partition: number;
  offset: number;
}

async function tableWith(rows: readonly Row[]): Promise<string> {
  const table = uniqueName("history");
  const warehouse = warehouseFor(table);
  await ensurePlaysTable(warehouse);
  const values = rows.map((row) =>
    `('${row.id}', 1, '${row.artist}', ${row.song}, '${row.name}', 'song_completed', ` +
    `TIMESTAMP_MILLIS(${row.at}), CURRENT_TIMESTAMP(), ${row.partition}, ${row.offset})`
  );
  await query(
    warehouse,
    `INSERT INTO \`livecharts-local.music.${table}\`
       (event_id, user_id, artist, song_id, song_name, event_type, timestamp, ingested_at,
        kafka_partition, kafka_offset)
     VALUES ${values.join(",\n")}`,
  );
  return table;
}

/**
 * Loads the history below `request.anchors` into `counter` (a new one by
 * default) as the dashboard does; what the counter was seeded with, keyed
 * `artist/song_id`, and every bucket added.
 */
async function loadInto(
  warehouse: Warehouse,
  request: HistoryRequest,
  counter: PlayCounter = createPlayCounter({ now: request.now }),
) {
  const buckets: Parameters<HistorySink["addBucket"]>[] = [];
  const seeding = seedCounter(counter);
  const history = await loadHistory(warehouse, request, {
    add: (song) => seeding.add(song),
    addBucket(...bucket) {
      buckets.push(bucket);
      seeding.addBucket(...bucket);
    },
  });
  const songs = new Map<string, SongHistory>();
  counter.forEachSeeded((song) => songs.set(`${song.artist}/${song.song_id}`, song));
  return { history, counter, songs, buckets };
}

function anchors(below: [number, number][]): PartitionAnchor[] {
  return below.map(([partition, offset]) => ({
    partition,
    below: BigInt(offset),
    start: BigInt(offset),
    end: BigInt(offset),
  }));
}

test("loadHistory() counts distinct plays below the anchors, all time and per window bucket", async () => {
  const now = Date.now();
  const rows: Row[] = [
    {
      id: "a",
      artist: "tony-allen",
      song: 1,
      name: "zombie",
      at: now - MINUTE,
      partition: 0,
      offset: 0,
    },
    {
      id: "b",
      artist: "tony-allen",
      song: 1,
      name: "zombie!",
      at: now - 2 * MINUTE,
      partition: 0,
      offset: 1,
    },
    {
      id: "a",
      artist: "tony-allen",
      song: 1,
      name: "zombie",
      at: now - MINUTE,
      partition: 1,
      offset: 0,
    }, // re-sent
    {
      id: "c",
      artist: "tony-allen",
      song: 2,
      name: "lady",
      at: now - 2 * HOUR,
      partition: 1,
      offset: 1,
    },
    {
      id: "d",
      artist: "tony-allen",
      song: 2,
      name: "lady",
      at: now - 30 * HOUR,
      partition: 1,
      offset: 2,
    },
    // Written but not committed: above the anchor, left out.
    {
      id: "e",
      artist: "tony-allen",
      song: 2,
      name: "lady",
      at: now - MINUTE,
      partition: 0,
      offset: 2,
    },
  ];
  const table = await tableWith(rows);
  const { history, counter, songs, buckets } = await loadInto(warehouseFor(table), {
    anchors: anchors([[0, 2], [1, 3]]),
    now,
    allowedLatenessMs: 24 * HOUR,
  });
  assert.equal(history.queries, 2);
  assert.equal(history.songs, 2);
  assert.deepEqual(songs.get("tony-allen/1"), {
    artist: "tony-allen",
    song_id: 1,
    plays: 2,
    song_name: "zombie",
    latestAt: now - MINUTE,
  });
  assert.equal(songs.get("tony-allen/2")?.plays, 2);

  // Each play sits in the bucket its event time falls in.
  const fiveMinutes = buckets.flatMap(([window, artist, songId, start, plays]) =>
    window === "5m" && artist === "tony-allen" && songId === 1
      ? Array.from({ length: plays }, () => start)
      : []
  );
  const width = WINDOWS["5m"].bucketMs;
  const bucketOf = (at: number) => Math.floor(at / width) * width;
  assert.deepEqual(fiveMinutes.sort(), [bucketOf(now - 2 * MINUTE), bucketOf(now - MINUTE)].sort());
  assert.equal(history.buckets, buckets.length);

  const totals = (["5m", "1h", "24h", "all"] as const).map((w) =>
    counter.top("tony-allen", w, 10, now).total
  );
  assert.deepEqual(totals, [2, 2, 3, 4]);
  assert.ok(Math.min(...fiveMinutes) >= heldFrom("5m", now), "within the 5 minutes before, held");
});

/** Orders songs by artist, then song id. */
function bySong(a: { artist: string; song_id: number }, b: { artist: string; song_id: number }) {
  return a.artist === b.artist ? a.song_id - b.song_id : a.artist < b.artist ? -1 : 1;
}

test("loadHistory() asked for the change since earlier anchors equals asking in full", async () => {
  const now = Date.now();
  const rows: Row[] = [];
  let offset = 0;
  // Older plays below the first anchors, then newer ones between the two
  // anchors, one of them a copy of an older play (same id, same time).
  for (let i = 0; i < 40; i++) {
    rows.push({
      id: `old-${i}`,
      artist: i % 3 === 0 ? "fela-kuti" : "tony-allen",
      song: 1 + (i % 4),
      name: `song-${1 + (i % 4)}`,
      at: now - (3 * 24 * HOUR) - i * MINUTE,
      partition: i % 2,
      offset: offset++ >> 1,
    });
  }
  const firstBelow: [number, number][] = [[0, 20], [1, 20]];
  const newer: Row[] = Array.from({ length: 12 }, (_, i) => ({
    id: `new-${i}`,
    artist: "tony-allen",
    song: 1 + (i % 5),
    name: i === 11 ? "renamed" : `song-${1 + (i % 5)}`,
    at: now - 10 * MINUTE + i * 1_000,
    partition: i % 2,
    offset: 20 + (i >> 1),
  }));
  const copy = { ...rows[4]!, partition: 0, offset: 26 }; // re-sent much later
  const table = await tableWith([...rows, ...newer, copy]);
  const warehouse = warehouseFor(table);
  const first = await loadInto(warehouse, {
    anchors: anchors(firstBelow),
    now,
    allowedLatenessMs: 24 * HOUR,
  });
  const second = anchors([[0, 27], [1, 26]]);
  const full = await loadInto(warehouse, { anchors: second, now, allowedLatenessMs: 24 * HOUR });
  /** A new counter seeded with what `from` was seeded with, as a re-anchoring does. */
  const continuing = (from: PlayCounter) => {
    const counter = createPlayCounter({ now });
    from.forEachSeeded((song) => counter.seedSong(song));
    return counter;
  };
  // The reader saw every play between the anchors: the earliest is the copy.
  const change = await loadInto(warehouse, {
    anchors: second,
    now,
    allowedLatenessMs: 24 * HOUR,
    previous: { anchors: anchors(firstBelow), since: copy.at },
  }, continuing(first.counter));
  assert.equal(change.history.full, false);
  assert.ok(change.history.songs < full.history.songs, "asked for the change only");
  assert.deepEqual([...change.songs.values()].sort(bySong), [...full.songs.values()].sort(bySong));
  assert.equal(full.songs.get("tony-allen/2")?.song_name, "renamed");
  assert.equal(change.counter.stats.seeded, full.counter.stats.seeded);
  // Nothing new between the anchors: all time is not asked at all.
  const none = await loadInto(warehouse, {
    anchors: second,
    now,
    allowedLatenessMs: 24 * HOUR,
    previous: { anchors: second, since: undefined },
  }, continuing(full.counter));
  assert.equal(none.history.queries, 1);
  assert.deepEqual([...none.songs.values()].sort(bySong), [...full.songs.values()].sort(bySong));
});

test("loadHistory() takes a song's name and latest play from its latest row, on a tie the name that sorts last", async () => {
  const now = Date.now();
  const play = (id: string, name: string, at: number, offset: number): Row => ({
    id,
    artist: "fela-kuti",
    song: 7,
    name,
    at,
    partition: 0,
    offset,
  });
  const table = await tableWith([
    // By UTF-8 bytes (code points): "😀" (U+1F600) sorts after "ｚ" (U+FF5A),
    // which UTF-16 units would put first; the largest id does not count.
    play("b", "tied 😀", now - MINUTE, 0),
    play("c", "tied ｚ", now - MINUTE, 1),
    play("d", "zz older", now - HOUR, 2),
    play("a", "tied a", now - MINUTE, 3),
  ]);
  const { songs } = await loadInto(warehouseFor(table), {
    anchors: anchors([[0, 4]]),
    now,
    allowedLatenessMs: 24 * HOUR,
  });
  assert.deepEqual(songs.get("fela-kuti/7"), {
    artist: "fela-kuti",
    song_id: 7,
    plays: 4,
    song_name: "tied 😀",
    latestAt: now - MINUTE,
  });
});

test("loadHistory() keeps names with quotes, commas and newlines, and refuses a song it cannot read", async () => {
  const now = Date.now();
  const name = `lady, "live"\nat the shrine ü`;
  const table = await tableWith([
    { id: "a", artist: "fela-kuti", song: 1, name: "x", at: now - MINUTE, partition: 0, offset: 0 },
  ]);
  const warehouse = warehouseFor(table);
  const ref = `\`livecharts-local.music.${table}\``;
  // A name BigQuery must escape in JSON, written as a query parameter so the text is exact.
  await query(warehouse, `UPDATE ${ref} SET song_name = @name WHERE event_id = 'a'`, { name });
  const stored = await query(warehouse, `SELECT song_name FROM ${ref}`);
  assert.equal(stored[0]?.song_name, name, "the name is stored as written");
  const { songs } = await loadInto(warehouse, {
    anchors: anchors([[0, 1]]),
    now,
    allowedLatenessMs: 24 * HOUR,
  });
  assert.equal(songs.get("fela-kuti/1")?.song_name, name);
  assert.equal(songs.get("fela-kuti/1")?.plays, 1);

  // A stored play without a name (the local BigQuery does not enforce REQUIRED):
  // the whole song would vanish from a packed answer; it is refused instead.
  await query(warehouse, `UPDATE ${ref} SET song_name = NULL WHERE event_id = 'a'`);
  const nameless = await query(
    warehouse,
    `SELECT COUNT(*) AS n FROM ${ref} WHERE song_name IS NULL`,
  );
  assert.equal(Number(nameless[0]?.n), 1, "the fault happened: the stored name is NULL");
  await assert.rejects(
    loadInto(warehouse, { anchors: anchors([[0, 1]]), now, allowedLatenessMs: 24 * HOUR }),
    /Cannot read BigQuery's history: 'song_name' must be text, got null/,
  );
});

test("loadHistory() that failed adds nothing more, though its other query answers later", async () => {
  const now = Date.now();
  // Two plays of one song, one table row each.
  const table = await tableWith([0, 1].map((offset) => ({
    id: `play-${offset}`,
    artist: "tony-allen",
    song: 1,
    name: "zombie",
    at: now - MINUTE,
    partition: 0,
    offset,
  })));
  // The windows query is refused; the all-time query is held until that
  // failure reached the caller, then answered.
  const standIn = startBigQueryStandIn();
  standIn.refusing = false;
  standIn.refuses = (request) => request.body.includes("time_window");
  let failed!: () => void;
  const failure = new Promise<void>((resolve) => failed = resolve);
  standIn.holds = (request) => request.method === "POST" ? failure : undefined;
  try {
    const warehouse = openWarehouse(
      loadBigQueryConfig(["--table", table, "--emulator-host", standIn.url], {}),
    );
    const counter = createPlayCounter({ now });
    const sink = seedCounter(counter);
    await assert.rejects(
      loadHistory(
        warehouse,
        { anchors: anchors([[0, 2]]), now, allowedLatenessMs: 24 * HOUR },
        sink,
      ),
      /stand-in: unavailable/,
    );
    assert.ok(standIn.refused > 0, "the fault happened: the windows query was refused");
    assert.equal(sink.touched, false, "nothing was added before the failure");
    const answeredBefore = standIn.answered;
    failed();
    // The all-time query is created and its first page answered after the failure.
    await waitFor("the held query's answers", () => standIn.answered >= answeredBefore + 2, 30_000);
    await sleep(200);
    assert.equal(sink.touched, false, "nothing was added after the failure");
    assert.equal(counter.stats.seeded, 0);
  } finally {
    failed();
    await standIn.close();
  }
});
