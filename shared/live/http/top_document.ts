/**
 * The document of `/api/top`, of each `/api/stream` event and of the
 * downloads: an artist's top songs in a window, with how they move, the
 * series of the chart and how fresh the numbers are.
 *
 * @module
 */

import type { LiveState, LiveStatus } from "../feed/live_feed.ts";
import { type PlayCounter, type RankChange, rankChange, type WindowName } from "../counting/mod.ts";
import type { SongPlays } from "../counting/song_plays.ts";

/** What `/api/top` and `/api/stream` are asked for. */
export interface TopQuery {
  artist: string;
  window: WindowName;
  limit: number;
}

/** A listed song, with how it moves. */
export interface SongTrend extends SongPlays {
  /**
   * Places gained since the period just before the window (same length,
   * ending at `from`), `"new"` when it had no plays then; `null` when that
   * period is not known (`24h`, `all`, or less than a period read since start).
   */
  rank_change: RankChange | null;
  /** Plays per point of the document's `series` layout; `null` for `all`. */
  series: number[] | null;
}

/** The document of `/api/top` and of each `/api/stream` event. */
export interface TopDocument {
  artist: string;
  window: WindowName;
  /** Window start (ISO), `null` for `all`: BigQuery can be asked for `timestamp >= from`. */
  from: string | null;
  updated_at: string;
  /** Plays of the artist in the window (all songs, not only those listed). */
  total: number;
  songs: SongTrend[];
  /**
   * Where the songs' series points lie: the first starts at `from` (ISO),
   * each is `point_ms` long; `total` is the artist's plays per point (all
   * songs); `null` for `all`.
   */
  series: { from: string; point_ms: number; points: number; total: number[] } | null;
  /** Plays of the artist per second over the last minute. */
  plays_per_second: number;
  /** Latest event time of the artist. */
  last_event_at: string | null;
  /** Latest event time of any play counted (how fresh the data is). */
  newest_event_at: string | null;
  /** Messages in Kafka the dashboard has not counted yet; `null` when not known. */
  kafka_lag: number | null;
  /**
   * `live` when the numbers are complete; `catching-up` after a start;
   * `degraded` while BigQuery's history is missing (plays read since start only).
   */
  state: LiveState;
  /** What is wrong, one sentence each (Kafka reader down, BigQuery unreachable). */
  problems: string[];
}

/** Builds the document for `query` at `now`. */
export function topDocument(
  counter: PlayCounter,
  query: TopQuery,
  now: number,
  status: Pick<LiveStatus, "state" | "problems">,
  kafkaLag?: number,
): TopDocument {
  const newest = counter.newestEventAt();
  const top = counter.top(query.artist, query.window, query.limit, now);
  const trends = counter.trends(
    query.artist,
    query.window,
    now,
    top.songs.map((song) => song.song_id),
  );
  const ranks = trends?.previousRanks;
  return {
    artist: top.artist,
    window: top.window,
    from: top.from === undefined ? null : new Date(top.from).toISOString(),
    updated_at: new Date(now).toISOString(),
    total: top.total,
    songs: top.songs.map((song, i) => ({
      ...song,
      rank_change: ranks === undefined ? null : rankChange(i + 1, ranks.get(song.song_id)),
      series: trends === undefined
        ? null
        : trends.series.get(song.song_id) ?? new Array<number>(trends.layout.points).fill(0),
    })),
    series: trends === undefined ? null : {
      from: new Date(trends.layout.from).toISOString(),
      point_ms: trends.layout.pointMs,
      points: trends.layout.points,
      total: trends.total,
    },
    plays_per_second: Math.round(top.playsPerSecond * 100) / 100,
    last_event_at: top.lastEventAt === undefined ? null : new Date(top.lastEventAt).toISOString(),
    newest_event_at: newest === undefined ? null : new Date(newest).toISOString(),
    kafka_lag: kafkaLag ?? null,
    state: status.state,
    problems: status.problems,
  };
}
