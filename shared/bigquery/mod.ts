export * from "./deadline.ts";
export * from "./warehouse.ts";
