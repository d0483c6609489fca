/**
 * `counting`: how fast one dashboard process counts plays it reads from
 * Kafka, at a streaming service's catalog size, against `kcat -C` reading
 * the same topic in the same run.
 *
 * Two fresh topics are filled by producer.ts from its generated catalog
 * (artists of 10 songs, Zipf-like popularity; event times as produced, so
 * every play is inside every window when read): a small one and a large one. The BigQuery table is empty and no group has
 * committed, so the dashboard reads each topic from its start. For each, the
 * time from spawn until `/healthz` says `live` (Kafka read to its end) is
 * measured, and the all-time plays it then shows must equal the topic's.
 * The counting rate is `(large − small) / (t_large − t_small)`: the process
 * start, BigQuery's (empty) answers and the group join cancel out. `kcat -C`
 * reads the large topic to its end, to /dev/null, in the same repetition
 * (alternating who goes first).
 *
 * Then the same two starts with viewers: one live stream (`/api/stream`,
 * last hour) for each of the 1,000 most played artists, opened by the
 * bench process as soon as the dashboard serves and read to the end; each
 * must get a document. The slowdown is the rate without viewers over the
 * rate with them.
 *
 * The targets for one dashboard process at catalog size: ≥ 0.25 × `kcat -C`,
 * and 1,000 viewers of 1,000 artists slow counting by at most 2 ×.
 *
 * @module
 */

import { ensurePlaysTable } from "../shared/bigquery/mod.ts";
import { tail } from "../shared/launch/mod.ts";
import { allTimePlays, startDashboard } from "./dashboard.ts";
import { peakMb, sampleMemory } from "./proc_memory.ts";
import { fillTopic, kcat } from "./processes.ts";
import type { BenchResult, MeasuredReference } from "./report.ts";
import {
  benchWarehouse,
  dropTables,
  openAdmin,
  removeKafka,
  topicSize,
  uniqueName,
} from "./services.ts";
import { ratio, summarize } from "./stats.ts";

/** Options of {@linkcode benchCounting}. */
export interface CountingOptions {
  /** Plays in the small and in the large topic. */
  small: number;
  large: number;
  /** Artists of the producer's catalog (10 songs each). */
  artists: number;
  /** Viewers, each of another of the most played artists, in the runs with viewers. */
  viewers: number;
  repetitions: number;
  log?: (line: string) => void;
}

/** Target: plays counted per second over `kcat -C`'s messages per second. */
export const COUNTING_RATIO = 0.25;
/** Target: counting without viewers over counting with them. */
export const VIEWERS_SLOWDOWN = 2;

/** Live streams of the top songs, one per artist, read and thrown away; documents counted. */
function openViewers(url: string, artists: readonly string[]) {
  const controller = new AbortController();
  const documents = artists.map(() => 0);
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const reading = artists.map(async (artist, i) => {
    try {
      const query = new URLSearchParams({ artist, window: "1h" });
      const response = await fetch(new URL(`/api/stream?${query}`, url), {
        signal: controller.signal,
      });
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        return;
      }
      const reader = response.body.getReader();
      readers.push(reader);
      const decoder = new TextDecoder();
      let carry = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = carry + decoder.decode(value, { stream: true });
        documents[i]! += text.split('\ndata: {"').length - 1;
        carry = text.slice(-8);
      }
    } catch {
      // closed by the benchmark (or the dashboard stopped)
    }
  });
  return {
    documents,
    async close(): Promise<void> {
      // Each body cancelled: an abort alone left the connections open in
      // the bench process.
      controller.abort();
      await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
      await Promise.all(reading);
    },
  };
}

/** Streams allowed, from one client and in all, when viewers are measured. */
const VIEWER_ARGS = ["--max-streams", "5000", "--max-streams-per-client", "5000"];

/**
 * Spawn to `live` on `names`, checked complete; seconds, peak RSS and the
 * most played artists (up to 1,000). With `viewers`, one live stream per
 * artist is opened as soon as the dashboard serves, and each must have had a
 * document by the end.
 */
async function untilLive(
  names: { topic: string; table: string; view: string; group: string },
  plays: number,
  viewers: readonly string[] = [],
): Promise<{ seconds: number; peakMb: number; artists: string[]; leastDocuments: number }> {
  let memory: ReturnType<typeof sampleMemory> | undefined;
  const started = performance.now();
  const dashboard = await startDashboard(names, {
    args: ["--reconcile-every", "0", "--reanchor-every", "0", ...VIEWER_ARGS],
    pollMs: 25,
    timeoutMs: 600_000,
    until: viewers.length > 0 ? "serving" : "live",
    onSpawn: (child) => (memory = sampleMemory(child.pid, { intervalMs: 100, progress: () => 0 })),
  });
  const watching = openViewers(dashboard.url, viewers);
  try {
    const until = Date.now() + 600_000;
    while ((await dashboard.health()).state !== "live") {
      if (Date.now() > until) {
        throw new Error(`Not live after 600 s:\n${tail(dashboard.child.lines)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const seconds = (performance.now() - started) / 1000;
    const counted = await allTimePlays(dashboard);
    if (counted !== plays) {
      throw new Error(
        `The dashboard went live with ${counted} of ${plays} plays:\n${
          tail(dashboard.child.lines)
        }`,
      );
    }
    const body: unknown = await (await fetch(new URL("/api/artists?limit=1000", dashboard.url)))
      .json();
    const artists = typeof body === "object" && body !== null && "artists" in body &&
        Array.isArray(body.artists)
      ? body.artists.flatMap((entry: unknown) =>
        typeof entry === "object" && entry !== null && "artist" in entry &&
          typeof entry.artist === "string"
          ? [entry.artist]
          : []
      )
      : [];
    // A thousand streams opened at once may still be connecting when the
    // numbers are complete: each gets its first document on connecting.
    const served = Date.now() + 30_000;
    while (viewers.length > 0 && Math.min(...watching.documents) === 0 && Date.now() < served) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await watching.close();
    const leastDocuments = viewers.length === 0 ? 0 : Math.min(...watching.documents);
    if (viewers.length > 0 && leastDocuments === 0) {
      throw new Error(
        `${watching.documents.filter((n) => n === 0).length} viewers got no document within 30 s`,
      );
    }
    const samples = await memory!.stop();
    const stopped = await dashboard.stop();
    if (stopped.code !== 0) {
      throw new Error(`dashboard.ts exited with ${stopped.code}:\n${tail(stopped.lines)}`);
    }
    return { seconds, peakMb: peakMb(samples), artists, leastDocuments };
  } finally {
    await watching.close();
    await memory?.stop();
    await dashboard.stop();
  }
}

/** Runs the counting benchmark. */
export async function benchCounting(options: CountingOptions): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const id = uniqueName("counting");
  const small = { topic: `${id}_s`, table: id, view: `${id}_top`, group: `${id}_g` };
  const large = { ...small, topic: `${id}_l` };
  const produce = [
    "--catalog-artists",
    String(options.artists),
    "--catalog-songs-per-artist",
    "10",
  ];
  const admin = await openAdmin();
  const rates: number[] = [];
  const kcatRates: number[] = [];
  const watchedRates: number[] = [];
  const runs: Record<string, number>[] = [];
  try {
    await ensurePlaysTable(benchWarehouse(id));
    for (const [names, plays] of [[small, options.small], [large, options.large]] as const) {
      await fillTopic(names.topic, plays, produce);
      const size = await topicSize(admin, names.topic);
      if (size !== plays) throw new Error(`${names.topic} holds ${size} plays, expected ${plays}`);
    }
    log(
      `counting: topics of ${options.small.toLocaleString("en")} and ${
        options.large.toLocaleString("en")
      } plays over ${(options.artists * 10).toLocaleString("en")} songs filled`,
    );
    for (let rep = 0; rep < options.repetitions; rep++) {
      const order = rep % 2 === 0 ? ["kcat", "ours"] : ["ours", "kcat"];
      for (const contender of order) {
        if (contender === "kcat") {
          const rate = await kcat(large.topic, options.large);
          kcatRates.push(rate);
          log(`counting #${rep + 1} kcat -C: ${Math.round(rate)} messages/s`);
          continue;
        }
        const a = await untilLive(small, options.small);
        const b = await untilLive(large, options.large);
        const rate = (options.large - options.small) / (b.seconds - a.seconds);
        // The same with a viewer on each of the most played artists.
        const artists = b.artists.slice(0, options.viewers);
        const av = await untilLive(small, options.small, artists);
        const bv = await untilLive(large, options.large, artists);
        const watched = (options.large - options.small) / (bv.seconds - av.seconds);
        rates.push(rate);
        watchedRates.push(watched);
        runs.push({
          small_s: a.seconds,
          large_s: b.seconds,
          peak_mb: b.peakMb,
          viewers: artists.length,
          small_viewed_s: av.seconds,
          large_viewed_s: bv.seconds,
          peak_viewed_mb: bv.peakMb,
          least_documents_per_viewer: Math.min(av.leastDocuments, bv.leastDocuments),
        });
        log(
          `counting #${rep + 1} ours: live in ${a.seconds.toFixed(2)} s / ${
            b.seconds.toFixed(2)
          } s, ${Math.round(rate)} plays/s, peak ${
            Math.round(b.peakMb)
          } MB; with ${artists.length} ` +
            `viewers ${av.seconds.toFixed(2)} s / ${bv.seconds.toFixed(2)} s, ${
              Math.round(watched)
            } plays/s, peak ${Math.round(bv.peakMb)} MB`,
        );
      }
    }
  } finally {
    await removeKafka(admin, { topics: [small.topic, large.topic], groups: [small.group] });
    await admin.close();
    await dropTables([id]);
  }
  const ours = summarize(rates);
  const watched = summarize(watchedRates);
  const slowdown = summarize(rates.map((rate, i) => rate / watchedRates[i]!));
  const kcatSummary = summarize(kcatRates);
  const reference: MeasuredReference = {
    name: "kcat -C to /dev/null",
    ...kcatSummary,
    ratio: ratio(ours.median, kcatSummary.median),
  };
  return {
    id: "counting",
    what: `one dashboard process counting ${
      (options.large - options.small).toLocaleString("en")
    } plays read from Kafka over a catalog of ${
      (options.artists * 10).toLocaleString("en")
    } songs (Zipf-like, every play inside every window)`,
    unit: "plays/s",
    repetitions: options.repetitions,
    ours,
    reference,
    ratio: reference.ratio,
    references: [reference],
    target:
      `≥ ${COUNTING_RATIO} × kcat -C; with ${options.viewers} viewers of ${options.viewers} ` +
      `artists at most ${VIEWERS_SLOWDOWN} × slower`,
    met: reference.ratio >= COUNTING_RATIO && slowdown.median <= VIEWERS_SLOWDOWN,
    method: "ours: dashboard.ts with its task's flags (64 MB heap) on an empty table, no commit, " +
      "spawn to /healthz live (asked every 25 ms) on the small and on the large topic, each " +
      "checked complete by its all-time plays; rate = (large − small) / (t_large − t_small). " +
      "Reference: kcat -C -e on the large topic to /dev/null, spawn to exit. Peak RSS: the " +
      "large start's max VmHWM. Viewers: the same two starts with one /api/stream (1h) per " +
      "artist of the most played, opened by the bench process as soon as the dashboard serves " +
      "and read to the end (each must get a document); slowdown = rate without / rate with.",
    details: {
      small: options.small,
      large: options.large,
      songs: options.artists * 10,
      per_repetition: { ours: runs, kcat: kcatRates },
      peak_rss_mb: summarize(runs.map((run) => run.peak_mb!)),
      viewers: options.viewers,
      with_viewers_plays_per_second: watched,
      slowdown_with_viewers: slowdown,
      peak_rss_with_viewers_mb: summarize(runs.map((run) => run.peak_viewed_mb!)),
    },
  };
}
