/**
 * The commit marker: what the consumer stores in the metadata of each Kafka
 * offset commit so that a restart knows where the rows of the messages after
 * that offset went.
 *
 * A commit of offset `O` with marker `{ stream, row }` says: the rows of
 * every message before `O` are stored, and the rows of the messages from `O`
 * on go to write stream `stream`, from row `row` on. After a crash the next
 * owner of the partition finalizes `stream` (no more appends), reads its row
 * count, and knows that the first `rowCount - row` rows it rebuilds from the
 * re-read messages are already stored.
 *
 * Two more fields make the restart cheaper and safer:
 * - `f: 1`: the stream was finalized by a clean shutdown after this commit,
 *   so it holds exactly `row` rows and the next owner need not finalize it
 *   again;
 * - `k`: rows of messages up to this offset may be stored outside the named
 *   stream (after a lost stream or a decoder change): the next owner asks
 *   BigQuery which offsets of the partition it holds instead of counting;
 * - `v`: the version of the decoder that turned the messages into rows. The
 *   skip by count is only right when the re-read messages are decoded the
 *   same way; a marker of another version makes the next owner ask BigQuery
 *   which offsets it holds instead (a marker without `v` is version `"1"`).
 *
 * Written as compact JSON, `{"s":"projects/…/streams/…","r":123,"v":"1"}`:
 * well under the broker's `offset.metadata.max.bytes` (4096 by default) for
 * any valid table name.
 *
 * @module
 */

/** Where the rows after a committed offset go. */
export interface CommitMarker {
  /** Write stream name, `projects/…/datasets/…/tables/…/streams/…`. */
  stream: string;
  /** Row offset in `stream` of the first row after the committed offset. */
  row: number;
  /** The stream was finalized by a clean shutdown: it holds exactly `row` rows. */
  finalized?: boolean;
  /** Version of the decoder that made the rows (`"1"` when the marker has none). */
  version?: string;
  /**
   * Rows of messages up to this offset may be stored outside `stream`
   * (a lost stream, or another decoder's rows): the next owner asks
   * BigQuery which offsets it holds instead of counting.
   */
  askUntil?: bigint;
}

/** The version a marker without `v` stands for: decoders before versions. */
export const UNVERSIONED_DECODER = "1";

/** The broker's default `offset.metadata.max.bytes`. */
export const MAX_MARKER_BYTES = 4096;

/**
 * Formats a marker for a commit's metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMarker } from "./commit_marker.ts";
 * assert.equal(formatMarker({ stream: "projects/p/streams/s1", row: 12 }), '{"s":"projects/p/streams/s1","r":12}');
 * assert.equal(
 *   formatMarker({ stream: "s1", row: 12, finalized: true, version: "2" }),
 *   '{"s":"s1","r":12,"f":1,"v":"2"}',
 * );
 * ```
 */
export function formatMarker(marker: CommitMarker): string {
  if (!Number.isSafeInteger(marker.row) || marker.row < 0) {
    throw new RangeError(
      `Cannot write a commit marker: 'row' must be a non-negative integer, got ${marker.row}`,
    );
  }
  const text = JSON.stringify({
    s: marker.stream,
    r: marker.row,
    ...(marker.finalized === true ? { f: 1 } : {}),
    ...(marker.version === undefined ? {} : { v: marker.version }),
    ...(marker.askUntil === undefined ? {} : { k: String(marker.askUntil) }),
  });
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_MARKER_BYTES) {
    throw new RangeError(
      `Cannot write a commit marker: it must fit in ${MAX_MARKER_BYTES} bytes, got ${bytes}`,
    );
  }
  return text;
}

/**
 * Reads a commit's metadata as a marker; undefined for anything else (no
 * metadata, or metadata another program or the insert-all mode wrote).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMarker } from "./commit_marker.ts";
 * assert.deepEqual(parseMarker('{"s":"projects/p/streams/s1","r":12}'), {
 *   stream: "projects/p/streams/s1", row: 12, finalized: false, version: "1",
 * });
 * assert.deepEqual(parseMarker('{"s":"s1","r":3,"f":1,"v":"2"}'), {
 *   stream: "s1", row: 3, finalized: true, version: "2",
 * });
 * assert.equal(parseMarker('{"s":"s1","r":0,"k":"41"}')?.askUntil, 41n);
 * assert.equal(parseMarker(""), undefined);
 * assert.equal(parseMarker('{"s":"x","r":-1}'), undefined);
 * ```
 */
export function parseMarker(metadata: string | null | undefined): CommitMarker | undefined {
  if (typeof metadata !== "string" || !metadata.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || !("s" in value) || !("r" in value)) {
    return undefined;
  }
  const { s, r } = value;
  if (typeof s !== "string" || s === "" || typeof r !== "number") return undefined;
  if (!Number.isSafeInteger(r) || r < 0) return undefined;
  const f = "f" in value ? value.f : undefined;
  const v = "v" in value ? value.v : undefined;
  const k = "k" in value ? value.k : undefined;
  return {
    stream: s,
    row: r,
    finalized: f === 1,
    version: typeof v === "string" && v !== "" ? v : UNVERSIONED_DECODER,
    ...(typeof k === "string" && /^\d{1,19}$/.test(k) ? { askUntil: BigInt(k) } : {}),
  };
}
