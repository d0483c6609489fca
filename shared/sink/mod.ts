export * from "./batcher.ts";
export * from "./metrics.ts";
export * from "./options.ts";
export * from "./sink.ts";
export * from "./stream.ts";
