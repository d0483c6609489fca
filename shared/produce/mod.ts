export * from "./catalog.ts";
export * from "./options.ts";
export * from "./produce_events.ts";
export * from "./simulator.ts";
export * from "./producer_lines.ts";
