/**
 * The table's columns as every partition writer sees them: loaded once,
 * reloaded when the table was created again, when they are older than the
 * writers' look-again interval, after a failed append and when BigQuery says
 * the schema changed; added to one change at a time (so two partitions
 * seeing the same new field add one column). Someone may drop or retype a
 * column by hand: every reload that finds another set of names and types
 * than before counts as a new `version`, which makes each writer fit its
 * rows again (schema_fit.ts).
 *
 * @module
 */

import type { Destination } from "../../bigquery/mod.ts";
import { logger } from "../../ops/mod.ts";
import type { Column } from "../../schema.ts";

const log = logger("consumer");

/** The table's columns, shared by the writers of one consumer. */
export interface TableColumns {
  /** Columns by lower-case name as last read (undefined until loaded). */
  readonly known: ReadonlyMap<string, Column> | undefined;
  /** The table's creation time when the columns were read. */
  readonly loadedFor: number | undefined;
  /** When the columns were last read (epoch ms; 0 until then, or once marked stale). */
  readonly loadedAt: number;
  /** Counts the changes of names or types seen (added here, or changed by someone else). */
  readonly version: number;
  /** Every known column, in the table's order. */
  all(): Column[];
  /** Reads the table's columns (`createdAt`: the table's creation time as known now). */
  load(createdAt: number | undefined): Promise<void>;
  /**
   * Reads the columns again unless they were read less than `maxAgeMs` ago
   * (default 0: always); joins a reload already under way.
   */
  refresh(maxAgeMs?: number): Promise<void>;
  /** The next {@linkcode refresh} reads the table whatever the age (BigQuery said it changed). */
  markStale(): void;
  /** Adds `columns` the table lacks, then reads the columns again. */
  add(columns: readonly Column[]): Promise<void>;
  /** Field names already warned about as dropped; true when `names` held a new one. */
  warnDropped(names: readonly string[]): boolean;
}

/**
 * The shared columns of `destination`'s table. Loads and additions run one
 * at a time; an addition is logged once, with the columns and their types.
 */
export function createTableColumns(
  destination: Pick<Destination, "tableColumns" | "addColumns" | "table">,
  options: { onAdded?: (names: string[]) => void } = {},
): TableColumns {
  let known: Map<string, Column> | undefined;
  let list: Column[] = [];
  let loadedFor: number | undefined;
  let loadedAt = 0;
  let version = 0;
  let signature = "";
  let reloading: Promise<void> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const warned = new Set<string>();

  function set(columns: Column[]) {
    const before = known;
    list = columns;
    known = new Map(columns.map((column) => [column.name.toLowerCase(), column]));
    loadedAt = Date.now();
    const now = columns.map((column) => `${column.name.toLowerCase()} ${column.type}`).sort()
      .join(",");
    if (now === signature) return;
    signature = now;
    version++;
    const changes = before === undefined ? "" : describeChanges(before, known);
    if (changes !== "") {
      log.warn("The columns of {table} changed: {changes}", { table: destination.table, changes });
    }
  }

  /** Runs `task` after the ones before it. */
  function serial(task: () => Promise<void>): Promise<void> {
    const run = queue.then(task, task);
    queue = run.catch(() => {});
    return run;
  }

  return {
    get known() {
      return known;
    },
    get loadedFor() {
      return loadedFor;
    },
    get loadedAt() {
      return loadedAt;
    },
    get version() {
      return version;
    },
    all: () => [...list],
    load: (createdAt) =>
      serial(async () => {
        set(await destination.tableColumns());
        loadedFor = createdAt;
      }),
    refresh(maxAgeMs = 0) {
      if (reloading !== undefined) return reloading;
      if (known !== undefined && Date.now() - loadedAt < maxAgeMs) return Promise.resolve();
      const run = serial(async () => set(await destination.tableColumns()));
      reloading = run;
      run.finally(() => {
        if (reloading === run) reloading = undefined;
      }).catch(() => {});
      return run;
    },
    markStale() {
      loadedAt = 0;
    },
    add: (columns) =>
      serial(async () => {
        let missing = columns.filter((column) => !known?.has(column.name.toLowerCase()));
        if (missing.length === 0) return;
        // Someone (another consumer, a person) may have added them meanwhile.
        set(await destination.tableColumns());
        const found = missing.filter((column) => known?.has(column.name.toLowerCase()));
        if (found.length > 0) {
          log.info("Columns for fields events carry are in {table} already: {columns}", {
            table: destination.table,
            columns: found.map((column) => {
              const now = known?.get(column.name.toLowerCase());
              return `${column.name} ${now?.type ?? column.type}`;
            }).join(", "),
          });
        }
        missing = missing.filter((column) => !known?.has(column.name.toLowerCase()));
        if (missing.length === 0) return;
        set(await destination.addColumns(missing));
        const absent = missing.filter((column) => !known?.has(column.name.toLowerCase()));
        if (absent.length > 0) {
          // Retried with backoff by the caller rather than asked again at once.
          throw new Error(
            `Cannot add columns to ${destination.table}: ${
              absent.map((column) => column.name).join(", ")
            } still missing after the change`,
          );
        }
        log.warn("Added columns to {table} for fields events carry: {columns}", {
          table: destination.table,
          columns: missing.map((column) => {
            const now = known?.get(column.name.toLowerCase());
            return `${column.name} ${now?.type ?? column.type}`;
          }).join(", "),
        });
        options.onAdded?.(missing.map((column) => column.name));
      }),
    warnDropped(names) {
      const fresh = names.filter((name) => !warned.has(name));
      for (const name of fresh) warned.add(name);
      return fresh.length > 0;
    },
  };
}

/**
 * What changed from `before` to `after` (columns by lower-case name), for
 * people: `dropped: country; retyped: duration_ms INT64 → STRING` (added
 * columns are logged where they are added).
 */
function describeChanges(
  before: ReadonlyMap<string, Column>,
  after: ReadonlyMap<string, Column>,
): string {
  const dropped = [...before.values()].filter((column) => !after.has(column.name.toLowerCase()));
  const retyped = [...before.values()].flatMap((column) => {
    const now = after.get(column.name.toLowerCase());
    return now === undefined || now.type === column.type
      ? []
      : [`${now.name} ${column.type} → ${now.type}`];
  });
  return [
    dropped.length > 0 ? `dropped: ${dropped.map((column) => column.name).join(", ")}` : "",
    retyped.length > 0 ? `retyped: ${retyped.join(", ")}` : "",
  ].filter((part) => part !== "").join("; ");
}
