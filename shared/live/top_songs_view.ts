/**
 * The `top_songs` BigQuery view: deduplicated play counts per window, artist
 * and song, with the same windows as the live dashboard (same lengths, same
 * bucket alignment, computed from `CURRENT_TIMESTAMP()`). It is what Looker
 * Studio users point a chart at.
 *
 * @module
 */

import {
  type BigQueryConfig,
  ensurePlaysTable,
  isTransientBigQueryError,
  playsTableRef,
  query,
  type Warehouse,
} from "../bigquery/mod.ts";
import { errorMessage } from "../errors.ts";
import { logger, retry } from "../ops/mod.ts";
import { WINDOW_NAMES, WINDOWS } from "./counting/mod.ts";

/** Fully qualified, quoted name of the view for SQL. */
export function viewRef(config: BigQueryConfig, view: string): string {
  return `\`${config.project}.${config.dataset}.${view}\``;
}

/** SQL of each window's start, aligned like `windowStart()` in windows.ts. */
function windowStartSql(): string {
  return WINDOW_NAMES.map((name) => {
    const spec = WINDOWS[name];
    const start = spec.lengthMs === undefined
      ? "CAST(NULL AS TIMESTAMP)"
      : `TIMESTAMP_MILLIS(CAST(CEIL((UNIX_MILLIS(CURRENT_TIMESTAMP()) - ${spec.lengthMs}) / ${spec.bucketMs}) * ${spec.bucketMs} AS INT64))`;
    return `SELECT '${name}' AS time_window, ${start} AS window_start`;
  }).join("\n  UNION ALL ");
}

/**
 * The `CREATE OR REPLACE VIEW` statement. Columns: `time_window` (`5m`,
 * `1h`, `24h`, `all`), `window_start` (NULL for `all`), `artist`, `song_id`,
 * `song_name` (of the latest play), `plays` (`COUNT(DISTINCT event_id)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topSongsViewSql } from "./top_songs_view.ts";
 * import { loadBigQueryConfig } from "../bigquery/mod.ts";
 * const sql = topSongsViewSql(loadBigQueryConfig([], {}), "top_songs");
 * assert.match(sql, /^CREATE OR REPLACE VIEW `livecharts-local\.music\.top_songs` AS/);
 * assert.match(sql, /COUNT\(DISTINCT p\.event_id\) AS plays/);
 * ```
 */
export function topSongsViewSql(config: BigQueryConfig, view: string): string {
  return `CREATE OR REPLACE VIEW ${viewRef(config, view)} AS
WITH windows AS (
  ${windowStartSql()}
)
SELECT
  w.time_window,
  w.window_start,
  p.artist,
  p.song_id,
  ARRAY_AGG(p.song_name ORDER BY p.timestamp DESC LIMIT 1)[OFFSET(0)] AS song_name,
  COUNT(DISTINCT p.event_id) AS plays
FROM ${playsTableRef(config)} AS p
CROSS JOIN windows AS w
WHERE w.window_start IS NULL OR p.timestamp >= w.window_start
GROUP BY w.time_window, w.window_start, p.artist, p.song_id`;
}

/**
 * Creates the dataset and plays table when missing, then (re)creates the
 * view, so a changed definition takes effect on the next start.
 */
export async function ensureTopSongsView(warehouse: Warehouse, view: string): Promise<void> {
  await ensurePlaysTable(warehouse);
  const sql = topSongsViewSql(warehouse.config, view);
  try {
    await query(warehouse, sql);
  } catch (error) {
    // The emulator refuses OR REPLACE on an existing view ("already created").
    if (!/already (created|exists)/i.test(errorMessage(error))) throw error;
    await query(warehouse, `DROP VIEW IF EXISTS ${viewRef(warehouse.config, view)}`);
    await query(warehouse, sql.replace("CREATE OR REPLACE VIEW", "CREATE VIEW"));
  }
}

const log = logger("dashboard");

/**
 * Creates or replaces the view once BigQuery answers, for the dashboard,
 * which serves without BigQuery: transient failures are retried (a warning
 * each) for up to 30 s or until `signal` aborts, anything else is logged.
 * Never rejects.
 */
export function ensureTopSongsViewSoon(
  warehouse: Warehouse,
  view: string,
  signal: AbortSignal,
): Promise<void> {
  return retry(() => ensureTopSongsView(warehouse, view), {
    isTransient: isTransientBigQueryError,
    signal,
    maxMs: 30_000,
    onRetry: (error, attempt, delayMs) =>
      log.warn("BigQuery not ready ({error}); retrying in {delayMs} ms", {
        error: errorMessage(error),
        attempt,
        delayMs,
      }),
  }).then(
    () => log.info("View {view} is ready", { view: `${warehouse.config.dataset}.${view}` }),
    (error) => {
      if (signal.aborted) return; // stopped while BigQuery was still away
      log.error("Cannot create view {view}: {error}", { view, error: errorMessage(error) });
    },
  );
}
