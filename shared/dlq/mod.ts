export * from "./dead_letter.ts";
export * from "./list_letters.ts";
export * from "./options.ts";
export * from "./replay.ts";
export * from "./replay_letters.ts";
export * from "./report.ts";
