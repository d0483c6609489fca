export * from "./duration.ts";
export * from "./options.ts";
export * from "./script.ts";
