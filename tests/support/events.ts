/**
 * A valid `song_completed` event as producers send it, for tests to vary.
 *
 * @module
 */

/** The moment test events are played by default (24 November 2026, noon UTC). */
export const PLAYED_AT = Date.UTC(2026, 10, 24, 12);

/** A valid event, played a second before `now`, with `overrides` applied. */
export function songCompleted(
  overrides: Record<string, unknown> = {},
  now = PLAYED_AT,
): Record<string, unknown> {
  return {
    event_id: crypto.randomUUID(),
    user_id: 7,
    artist: "tony-allen",
    song_id: 3,
    song_name: "secret-agent",
    event_type: "song_completed",
    timestamp: new Date(now - 1_000).toISOString(),
    ...overrides,
  };
}
