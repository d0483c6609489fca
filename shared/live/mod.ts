export * from "./id_set.ts";
export * from "./metrics.ts";
export * from "./play_feed.ts";
export * from "./reconcile.ts";
export * from "./server.ts";
export * from "./top_songs_view.ts";
export * from "./windows.ts";
