export * from "./batcher.ts";
export * from "./commit_marker.ts";
export * from "./metrics.ts";
export * from "./options.ts";
export * from "./partition_writer.ts";
export * from "./sink.ts";
export * from "./stream.ts";
export * from "./table_ready.ts";
