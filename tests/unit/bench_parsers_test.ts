// The benchmark reads what the scripts and tools print; these pin the formats it relies on.

import assert from "node:assert/strict";
import { dashboardV8Flags, parseCounterRun } from "../../bench/catalog.ts";
import { withPort } from "../../bench/dashboard.ts";
import { lastEventTime, pushSampler } from "../../bench/latency.ts";
import { lockedVersions } from "../../bench/machine.ts";
import { isFlat } from "../../bench/memory.ts";
import { parseProcStatus, peakMb, rssAtProgress } from "../../bench/proc_memory.ts";
import { withEmulator } from "../../bench/processes.ts";
import { producerPerformanceRate, producerRate } from "../../bench/produce.ts";
import { type BenchResult, formatSummary, formatValue, markdownTable } from "../../bench/report.ts";
import { helpDefault, insertedOf, parseCompact, progressRate } from "../../bench/sink.ts";
import { parseSseFrames } from "../../bench/sse.ts";
import { compact } from "../../shared/ops/progress.ts";

Deno.test("producerRate() reads the rate from producer.ts's summary line", () => {
  const lines = [
    "2026-11-24T19:34:13.297Z INFO    livecharts.producer: Producing to t on 127.0.0.1:9092",
    "2026-11-24T19:34:14.356Z INFO    livecharts.producer: Stopped: 50000 events delivered, " +
    "0 failed attempts retried, 0 undelivered in 0.812 s (61576 events/s)",
  ];
  assert.equal(producerRate(lines), 61_576);
  assert.equal(producerRate(lines.slice(0, 1)), undefined);
});

Deno.test("producerPerformanceRate() reads ProducerPerformance's final line", () => {
  const lines = [
    "Option --producer-props has been deprecated",
    "100000 records sent, 79618.6 records/sec (15.18 MB/sec), 300.2 ms avg latency",
    "200000 records sent, 62695.924765 records/sec (11.96 MB/sec), 662.16 ms avg latency, " +
    "1169.00 ms max latency, 777 ms 50th, 1037 ms 95th, 1147 ms 99th, 1167 ms 99.9th.",
  ];
  assert.equal(producerPerformanceRate(lines), 62_695.924765, "the final line, not a 5 s window");
  assert.equal(producerPerformanceRate(["nothing"]), undefined);
});

Deno.test("parseCompact() and insertedOf() read the consumer's progress line", () => {
  for (const value of [0, 950, 9_999, 12_345, 200_000, 999_949, 1_000_000, 4_560_000]) {
    const read = parseCompact(compact(value));
    assert.ok(read !== undefined && Math.abs(read - value) <= value * 0.0005 + 50, `${value}`);
  }
  assert.equal(parseCompact("nope"), undefined);
  const line = "consumer: consumed 46.3k | inserted 43.0k | dlq 0 | retries 0 | lag 0 | 8599/s";
  assert.equal(insertedOf(line), 43_000);
  assert.equal(insertedOf("producer: sent 5"), undefined);
});

Deno.test("progressRate() times the rows between the first insert and the last", () => {
  const line = (at: number, inserted: string) => ({
    at,
    text: `consumer: consumed 1 | inserted ${inserted} | dlq 0 | retries 0 | lag 0 | 0/s`,
  });
  const lines = [line(0, "0"), line(100, "500"), line(1_100, "10.5k"), line(2_100, "20.0k")];
  assert.equal(progressRate(lines, 20_000), 9_750);
  assert.equal(progressRate(lines.slice(0, 3), 20_000), undefined, "never showed all rows");
  assert.equal(progressRate([line(0, "0")], 10), undefined);
});

Deno.test("helpDefault() reads a default from a script's --help", () => {
  const help = "  --batch-rows N             Flush a batch at this many rows (default: 500)  " +
    "[BATCH_MAX_ROWS]\n  --insert-concurrency N     Batches written at once (default: 2)";
  assert.equal(helpDefault(help, "batch-rows"), 500);
  assert.equal(helpDefault(help, "insert-concurrency"), 2);
  assert.equal(helpDefault(help, "batch-bytes"), undefined);
});

Deno.test("parseSseFrames() splits complete events and keeps the rest", () => {
  const { events, rest } = parseSseFrames(
    'retry: 2000\n\ndata: {"a":1}\n\nevent: ping\ndata: {}\n\n: comment\ndata: x\r\ndata: y\r\n\r\ndata: {"b"',
  );
  assert.deepEqual(events, [
    { event: "message", data: '{"a":1}' },
    { event: "ping", data: "{}" },
    { event: "message", data: "x\ny" },
  ]);
  assert.equal(rest, 'data: {"b"');
});

Deno.test("lastEventTime() reads live documents only", () => {
  const doc = (state: string, last: string | null) =>
    JSON.stringify({ artist: "tony-allen", state, last_event_at: last });
  assert.equal(
    lastEventTime(doc("live", "2026-11-24T19:00:00.250Z")),
    Date.UTC(2026, 10, 24, 19, 0, 0, 250),
  );
  assert.equal(lastEventTime(doc("catching-up", "2026-11-24T19:00:00.250Z")), undefined);
  assert.equal(lastEventTime(doc("live", null)), undefined);
  assert.equal(lastEventTime("not json"), undefined);
});

Deno.test("pushSampler() bounds each push by the previous push's newest event", () => {
  const sampler = pushSampler();
  sampler.add(1_000, 1_010); // first push: transit only
  sampler.add(1_000, 1_260); // nothing new (another field changed): no bound
  sampler.add(1_240, 1_255);
  sampler.add(1_480, 1_510);
  assert.deepEqual(sampler.samples.newest, [10, 260, 15, 30]);
  assert.deepEqual(sampler.samples.bound, [255, 270]);
});

Deno.test("parseProcStatus() reads VmRSS and VmHWM", () => {
  const status = "Name:\tdeno\nVmPeak:\t 1234 kB\nVmHWM:\t  153600 kB\nVmRSS:\t  102400 kB\n";
  assert.deepEqual(parseProcStatus(status), { rssKb: 102_400, hwmKb: 153_600 });
  assert.equal(parseProcStatus("Name:\tzombie\n"), undefined);
});

Deno.test("rssAtProgress() and peakMb() summarize samples in MB", () => {
  const samples = [0, 0.2, 0.3, 0.55, 0.8, 1].map((progress, i) => ({
    at: i * 250,
    progress,
    rssKb: 100_000 + i * 1_000,
    hwmKb: 120_000,
  }));
  assert.deepEqual(rssAtProgress(samples, [0.25, 0.5, 0.75, 1]), [
    104.448,
    105.472,
    106.496,
    107.52,
  ]);
  assert.deepEqual(rssAtProgress(samples.slice(0, 2), [0.25]), [undefined]);
  assert.equal(peakMb(samples), 122.88);
  assert.equal(peakMb([]), 0);
});

Deno.test("isFlat() allows 25 % growth from a quarter of the events to the end", () => {
  assert.equal(isFlat([100, 110, 120, 125]), true);
  assert.equal(isFlat([100, 110, 120, 126]), false);
  assert.equal(isFlat([100, null, null, null]), false);
});

Deno.test("withPort() and withEmulator() swap one address in --allow-net only", () => {
  const args = [
    "run",
    "--allow-net=127.0.0.1:8080,127.0.0.1:9092,127.0.0.1:9050",
    "--allow-env=X",
    "d.ts",
  ];
  assert.deepEqual(withPort(args, 4321), [
    "run",
    "--allow-net=127.0.0.1:4321,127.0.0.1:9092,127.0.0.1:9050",
    "--allow-env=X",
    "d.ts",
  ]);
  assert.deepEqual(
    withEmulator(args, "127.0.0.1:9150")[1],
    "--allow-net=127.0.0.1:8080,127.0.0.1:9092,127.0.0.1:9150",
  );
  assert.deepEqual(withPort(["run", "--allow-net", "d.ts"], 1), ["run", "--allow-net", "d.ts"]);
});

Deno.test("lockedVersions() reads resolved npm versions from deno.lock", () => {
  const lock = {
    npm: {
      "kafkajs@2.2.4": {},
      "@google-cloud/bigquery@9.3.0_peer@1": {},
      "@google-cloud/bigquery-storage@5.0.0": {},
    },
  };
  assert.deepEqual(lockedVersions(lock, ["kafkajs", "@google-cloud/bigquery", "absent"]), {
    kafkajs: "2.2.4",
    "@google-cloud/bigquery": "9.3.0",
    absent: "unknown",
  });
  assert.deepEqual(lockedVersions(null, ["kafkajs"]), { kafkajs: "unknown" });
});

Deno.test("formatValue() and formatSummary() print three significant digits", () => {
  assert.equal(formatValue(61_234), "61.2k");
  assert.equal(formatValue(999_999), "1.00M");
  assert.equal(formatValue(412.6), "413");
  assert.equal(formatValue(17.26), "17.3");
  assert.equal(
    formatSummary({ median: 61_234, min: 58_000, max: 63_900 }, "events/s"),
    "61.2k (58.0k–63.9k) events/s",
  );
  assert.equal(formatSummary({ median: 81, min: 81, max: 81 }, "ms"), "81 ms");
});

Deno.test("markdownTable() shows every reference and ratio, and a skipped one as such", () => {
  const produce: BenchResult = {
    id: "produce",
    what: "livecharts producer",
    unit: "events/s",
    repetitions: 3,
    ours: { median: 60_000, min: 58_000, max: 61_000 },
    reference: {
      name: "ProducerPerformance",
      median: 80_000,
      min: 79_000,
      max: 83_000,
      ratio: 0.75,
    },
    ratio: 0.75,
    references: [
      { name: "ProducerPerformance", median: 80_000, min: 79_000, max: 83_000, ratio: 0.75 },
      { name: "kcat -P", skipped: "kcat is not installed" },
    ],
    target: "≥ 0.5 × ProducerPerformance",
    met: true,
    method: "",
    details: {},
  };
  const table = markdownTable([produce, { ...produce, id: "x|y", met: false, references: [] }]);
  assert.equal(
    table.split("\n")[2],
    "| produce | livecharts producer | 60.0k (58.0k–61.0k) events/s | " +
      "ProducerPerformance: 80.0k (79.0k–83.0k) events/s; kcat -P: skipped (kcat is not installed) | " +
      "0.75 × ProducerPerformance | ≥ 0.5 × ProducerPerformance | yes |",
  );
  assert.match(table.split("\n")[3]!, /^\| x\\\|y \|.*\| — \| — \|.*\| \*\*no\*\* \|$/);
});

Deno.test("dashboardV8Flags() reads the dashboard task's heap cap from deno.json", async () => {
  const flags = dashboardV8Flags(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  assert.match(flags, /^--v8-flags=\S*--max-old-space-size=64/);
});

Deno.test("parseCounterRun() reads counter_memory.ts's line and refuses an incomplete one", () => {
  const run = {
    counter: "windows",
    songs_in_catalog: 100_000,
    plays: 1_000_000,
    songs_played: 76_772,
    count_s: 3.7,
    plays_per_s: 270_000,
    peak_heap_mb: 60.1,
    peak_external_mb: 12.5,
    peak_rss_mb: 157.3,
  };
  assert.deepEqual(parseCounterRun(`Download x\n${JSON.stringify(run)}\n`), run);
  const { peak_rss_mb: _, ...partial } = run;
  assert.equal(parseCounterRun(JSON.stringify(partial)), undefined);
  assert.equal(parseCounterRun(JSON.stringify({ ...run, counter: "list" })), undefined);
  assert.equal(parseCounterRun("<--- Last few GCs --->\nReached heap limit"), undefined);
});
