export * from "./batcher.ts";
export * from "./metrics.ts";
export * from "./sink.ts";
