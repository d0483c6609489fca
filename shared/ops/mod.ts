export * from "./health.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./metrics_server.ts";
export * from "./progress.ts";
export * from "./redact.ts";
export * from "./retry.ts";
