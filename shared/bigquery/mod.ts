export * from "./warehouse.ts";
