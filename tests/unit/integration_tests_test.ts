import assert from "node:assert/strict";
import { DEFAULT_TIMEOUT_MS, test, withDeadline } from "../support/integration.ts";

/**
 * Tests that run side by side; tests that stop a shared service or time
 * their own load run alone, after them.
 */
const FOLDERS = ["integration", "exclusive"] as const;

async function testFiles(
  folder: (typeof FOLDERS)[number],
): Promise<{ name: string; text: string }[]> {
  const dir = new URL(`../${folder}/`, import.meta.url);
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    files.push({ name: `${folder}/${entry.name}`, text });
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

Deno.test("every integration test is declared with a deadline (test() of support/integration.ts)", async () => {
  const files = [...await testFiles("integration"), ...await testFiles("exclusive")];
  assert.ok(files.length > 10, `only ${files.length} integration files found`);
  for (const { name, text } of files) {
    assert.doesNotMatch(text, /\bDeno\.test\s*\(/, `${name} declares a test without a deadline`);
    assert.match(
      text,
      /from "\.\.\/support\/(integration|browser)\.ts"/,
      `${name} does not use the integration test helpers`,
    );
  }
});

Deno.test("only tests/exclusive/ (run alone) stops or restarts the shared services", async () => {
  for (const { name, text } of await testFiles("integration")) {
    assert.doesNotMatch(text, /services\("(down|up)"/, `${name} stops a shared service`);
  }
  const exclusive = await testFiles("exclusive");
  assert.ok(exclusive.some(({ text }) => /services\("down"/.test(text)), "the outages are there");
});

Deno.test("withDeadline() fails a test that runs past its deadline, naming it", async () => {
  const started = performance.now();
  await assert.rejects(
    withDeadline("waits forever", 50, () => new Promise<void>(() => {}))(),
    /^Error: Test "waits forever" timed out after 0\.05 s$/,
  );
  assert.ok(performance.now() - started < 1_000);
  assert.ok(DEFAULT_TIMEOUT_MS >= 60_000);
});

Deno.test("withDeadline() passes a test's result and failure through", async () => {
  let ran = 0;
  await withDeadline("quick", 1_000, () => {
    ran++;
  })();
  assert.equal(ran, 1);
  await assert.rejects(
    withDeadline("fails", 1_000, () => Promise.reject(new Error("its own failure")))(),
    /its own failure/,
  );
  assert.throws(() => withDeadline("none", 0, () => {}), /'timeoutMs' must be a positive number/);
});

Deno.test("test() refuses a declaration without a function", () => {
  // @ts-expect-error: the overloads need a function
  assert.throws(() => test("no body", {}), /Cannot register test "no body": no function/);
  assert.throws(
    () => test("seconds", { timeoutMs: 90 }, () => {}),
    /'timeoutMs' is in milliseconds: 90 is under a second/,
  );
});
