export * from "./duration.ts";
export * from "./options.ts";
export * from "./permissions.ts";
export * from "./script.ts";
export * from "./tasks.ts";
