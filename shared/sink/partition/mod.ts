/**
 * One partition writer per assigned partition: its messages in order into
 * its own write stream, exactly once, with offsets committed only behind
 * what BigQuery and Kafka acknowledged.
 *
 * - `writer.ts`: the loop and the writer's public face;
 * - `state.ts`: the one state every stage works on, and its invariants;
 * - `resume.ts`: what the committed marker says is stored (count, or query);
 * - `held.ts`: the held messages, cut into appends;
 * - `append_window.ts`: appends in flight, re-sent unchanged on failure;
 * - `streams.ts`: stream creation and settling a stream after a failure;
 * - `refusals.ts`: rows BigQuery refuses, as dead letters or a block;
 * - `commits.ts`: commits with markers, and dead letters before them;
 * - `schema_fit.ts`: columns for pass-through fields, type conflicts as dead letters;
 * - `retries.ts`: backoff, blocking, and what a failed call means;
 * - `context.ts`: what a writer is given; `table_state.ts`: the shared table;
 *   `table_columns.ts`: its shared columns.
 *
 * @module
 */

export type {
  Blocked,
  BlockReason,
  CommittedPosition,
  PartitionIO,
  PartitionWriter,
  RetryWhat,
  TableState,
  WriterContext,
  WriterEvents,
} from "./context.ts";
export { createTableState } from "./table_state.ts";
export { createTableColumns, type TableColumns } from "./table_columns.ts";
export { createPartitionWriter } from "./writer.ts";
