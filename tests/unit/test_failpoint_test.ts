import assert from "node:assert/strict";
import { formatHelp, OptionError, parseOptions } from "../../shared/cli/options.ts";
import { streamSettings } from "../../shared/sink/settings.ts";
import { consumerOptions } from "../../shared/tables/mod.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("the consumer's crash failpoint is left out of --help and the configuration reference", async () => {
  const help = formatHelp("deno task consume", "", consumerOptions);
  assert.ok(help.includes("--exit-when-idle"), help);
  assert.ok(!help.includes("test-crash"), help);
  assert.ok(!help.includes("LIVECHARTS_TEST_CRASH_AFTER_APPENDS"), help);
  const reference = await Deno.readTextFile(new URL("docs/configuration.md", ROOT));
  assert.ok(!reference.includes("test-crash"));
  assert.ok(!reference.includes("LIVECHARTS_TEST_CRASH_AFTER_APPENDS"));
});

Deno.test("the consumer's crash failpoint refuses to run with real BigQuery credentials", () => {
  const env = { LIVECHARTS_TEST_CRASH_AFTER_APPENDS: "3" };
  assert.equal(parseOptions(consumerOptions, [], env).crashAfterAppends, 3);
  assert.throws(
    () =>
      parseOptions(consumerOptions, [], { ...env, GOOGLE_APPLICATION_CREDENTIALS: "/k/key.json" }),
    (error: unknown) =>
      error instanceof OptionError &&
      /LIVECHARTS_TEST_CRASH_AFTER_APPENDS .* refusing to run it with real BigQuery/.test(
        error.message,
      ),
  );
  assert.throws(
    () =>
      parseOptions(
        consumerOptions,
        ["--test-crash-after-appends", "1", "--credentials", "k.json"],
        {},
      ),
    OptionError,
  );
});

Deno.test("streamSettings() warns loudly when the crash failpoint is on, and not otherwise", () => {
  const config = {
    createTable: true,
    dlqTopic: "plays.dlq",
    maxRows: 10,
    maxBytes: 1_000,
    maxWaitMs: 10,
    concurrency: 1,
  };
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    streamSettings({ ...config, crashAfterAppends: undefined });
    assert.deepEqual(printed, []);
    const settings = streamSettings({ ...config, crashAfterAppends: 4 });
    assert.ok("onAcknowledged" in settings);
  } finally {
    console.error = original;
  }
  assert.equal(printed.length, 1);
  assert.match(
    printed[0]!,
    /^WARNING: test failpoint on \(LIVECHARTS_TEST_CRASH_AFTER_APPENDS=4\)/,
  );
});

Deno.test("the consumer's after-columns failpoint is hidden and refused with real BigQuery credentials", () => {
  const help = formatHelp("deno task consume", "", consumerOptions);
  assert.ok(!help.includes("LIVECHARTS_TEST_CRASH_AFTER_COLUMNS"), help);
  const env = { LIVECHARTS_TEST_CRASH_AFTER_COLUMNS: "true" };
  assert.equal(parseOptions(consumerOptions, [], env).crashAfterColumns, true);
  assert.throws(
    () =>
      parseOptions(consumerOptions, [], { ...env, GOOGLE_APPLICATION_CREDENTIALS: "/k/key.json" }),
    (error: unknown) =>
      error instanceof OptionError &&
      /LIVECHARTS_TEST_CRASH_AFTER_COLUMNS .* refusing to run it with real BigQuery/.test(
        error.message,
      ),
  );
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    const settings = streamSettings({
      createTable: true,
      dlqTopic: "plays.dlq",
      maxRows: 10,
      maxBytes: 1_000,
      maxWaitMs: 10,
      concurrency: 1,
      crashAfterAppends: undefined,
      crashAfterColumns: true,
    });
    assert.ok("onColumnsAdded" in settings);
    assert.match(printed.join("\n"), /WARNING: test failpoint on/);
  } finally {
    console.error = original;
  }
});
