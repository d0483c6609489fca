/**
 * A song's plays in a window: what every list of songs is made of (the
 * counter, all time, the JSON documents).
 *
 * @module
 */

/** A song's plays in a window. */
export interface SongPlays {
  song_id: number;
  song_name: string;
  plays: number;
}
