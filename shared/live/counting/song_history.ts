/**
 * A song's plays of all time as BigQuery counted them, with its latest play:
 * what the dashboard's history is made of (feed/history.ts), what the
 * counter is seeded with and what it gives back for a re-anchoring.
 *
 * @module
 */

/** BigQuery's all-time plays of one song, with what the latest of them says. */
export interface SongHistory {
  artist: string;
  song_id: number;
  /** `COUNT(DISTINCT event_id)`. */
  plays: number;
  /** Name in the latest play (by event time, then the name that sorts last: song_names.ts). */
  song_name: string;
  /** Event time of that latest play (ms). */
  latestAt: number;
}
