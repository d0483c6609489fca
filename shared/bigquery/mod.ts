export * from "./deadline.ts";
export * from "./destination.ts";
export * from "./options.ts";
export * from "./storage_write.ts";
export * from "./warehouse.ts";
