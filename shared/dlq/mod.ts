export * from "./dead_letter.ts";
export * from "./replay.ts";
export * from "./report.ts";
