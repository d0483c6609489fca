/**
 * CI's lock step (`.ci/check_lock.sh`): it passes on the repository as
 * committed and fails, leaving deno.lock as it was, when deno.json names a
 * dependency the lock does not hold.
 */
import assert from "node:assert/strict";
import { test } from "../support/integration.ts";

const ROOT = new URL("../../", import.meta.url);

async function checkLock(dir?: string) {
  const output = await new Deno.Command("bash", {
    args: [new URL(".ci/check_lock.sh", ROOT).pathname, ...(dir === undefined ? [] : [dir])],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, text: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

test("CI's lock step fails when deno.lock would change, and passes on the committed lock", async () => {
  const committed = await checkLock();
  assert.equal(committed.code, 0, committed.text);
  const dir = await Deno.makeTempDir({ prefix: "lock_check_" });
  try {
    const config = await Deno.readTextFile(new URL("deno.json", ROOT));
    const changed = config.replace('"npm:prom-client@^15"', '"npm:prom-client@^14"');
    assert.notEqual(changed, config);
    await Deno.writeTextFile(`${dir}/deno.json`, changed);
    await Deno.copyFile(new URL("deno.lock", ROOT), `${dir}/deno.lock`);
    const before = await Deno.readTextFile(`${dir}/deno.lock`);
    const result = await checkLock(dir);
    assert.equal(result.code, 1, result.text);
    assert.match(result.text, /ci: deno\.lock does not match deno\.json/);
    assert.equal(await Deno.readTextFile(`${dir}/deno.lock`), before, "the lock is left alone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
