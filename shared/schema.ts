/**
 * The plays table: its columns, partitioning and clustering, defined once and
 * used both for the emulator and for real BigQuery, and the mapping of an
 * event read from Kafka to a row.
 *
 * @module
 */

import type { SongCompleted } from "./event.ts";

/** One column of a BigQuery schema. */
export interface Column {
  name: string;
  type: "STRING" | "INT64" | "TIMESTAMP";
  mode: "REQUIRED" | "NULLABLE";
  description: string;
}

/** Columns of the plays table: every event field plus ingestion metadata. */
export const PLAYS_COLUMNS: readonly Column[] = [
  {
    name: "event_id",
    type: "STRING",
    mode: "REQUIRED",
    description: "Unique play id (UUID); count DISTINCT event_id",
  },
  { name: "user_id", type: "INT64", mode: "REQUIRED", description: "Listener" },
  { name: "artist", type: "STRING", mode: "REQUIRED", description: "Artist slug" },
  { name: "song_id", type: "INT64", mode: "REQUIRED", description: "Song id within the artist" },
  { name: "song_name", type: "STRING", mode: "REQUIRED", description: "Song name" },
  { name: "event_type", type: "STRING", mode: "REQUIRED", description: "Always song_completed" },
  { name: "timestamp", type: "TIMESTAMP", mode: "REQUIRED", description: "Event time (UTC)" },
  {
    name: "ingested_at",
    type: "TIMESTAMP",
    mode: "REQUIRED",
    description: "When the consumer wrote the row",
  },
  { name: "kafka_partition", type: "INT64", mode: "REQUIRED", description: "Source partition" },
  { name: "kafka_offset", type: "INT64", mode: "REQUIRED", description: "Source offset" },
];

/** Table metadata for `tables.insert`: schema, day partitions, clustering. */
export function playsTableMetadata(): Record<string, unknown> {
  return {
    schema: { fields: PLAYS_COLUMNS.map((column) => ({ ...column })) },
    timePartitioning: { type: "DAY", field: "timestamp" },
    clustering: { fields: ["artist", "song_id"] },
    description: "song_completed events streamed from Kafka by livecharts",
  };
}

/** A row of the plays table. */
export interface PlayRow extends SongCompleted {
  ingested_at: string;
  kafka_partition: number;
  kafka_offset: number;
}

/** Builds the row stored for an event read at `partition`/`offset`. */
export function toRow(
  event: SongCompleted,
  partition: number,
  offset: string,
  ingestedAt: string,
): PlayRow {
  return {
    ...event,
    ingested_at: ingestedAt,
    kafka_partition: partition,
    kafka_offset: Number(offset),
  };
}
