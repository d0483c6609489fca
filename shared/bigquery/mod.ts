export * from "./deadline.ts";
export * from "./options.ts";
export * from "./warehouse.ts";
