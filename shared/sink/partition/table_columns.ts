/**
 * The table's columns as every partition writer sees them: loaded once,
 * reloaded when the table was created again, and added to one change at a
 * time (so two partitions seeing the same new field add one column).
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
  /** Every known column, in the table's order. */
  all(): Column[];
  /** Reads the table's columns (`createdAt`: the table's creation time as known now). */
  load(createdAt: number | undefined): Promise<void>;
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
  let queue: Promise<unknown> = Promise.resolve();
  const warned = new Set<string>();

  function set(columns: Column[]) {
    list = columns;
    known = new Map(columns.map((column) => [column.name.toLowerCase(), column]));
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
    all: () => [...list],
    load: (createdAt) =>
      serial(async () => {
        set(await destination.tableColumns());
        loadedFor = createdAt;
      }),
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
