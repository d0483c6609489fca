export * from "./catalog.ts";
export * from "./produce_events.ts";
export * from "./simulator.ts";
