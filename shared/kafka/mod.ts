export * from "./encoder_patch.ts";
export * from "./kafka.ts";
