import assert from "node:assert/strict";
import { nextStart, noteStart, startFile } from "../../shared/live/crash_backoff.ts";

Deno.test("nextStart() doubles the wait at each quick crash in a row, up to the cap", () => {
  const options = { initialMs: 1_000, maxMs: 5_000 };
  let record = nextStart(undefined, 0, options).record;
  const delays: number[] = [];
  for (let i = 1; i <= 6; i++) {
    const next = nextStart(record, i * 1_000, options);
    delays.push(next.delayMs);
    record = next.record;
  }
  assert.deepEqual(delays, [0, 1_000, 2_000, 4_000, 5_000, 5_000]);
});

Deno.test("nextStart() forgets a loop once a run lived long enough or stopped cleanly", () => {
  const options = { initialMs: 1_000, stableMs: 60_000 };
  const looping = { startedAt: 0, clean: false, crashes: 5 };
  assert.equal(nextStart(looping, 30_000, options).delayMs, 16_000);
  assert.deepEqual(nextStart(looping, 60_000, options), {
    record: { startedAt: 60_000, clean: false, crashes: 0 },
    delayMs: 0,
  });
  assert.equal(nextStart({ ...looping, clean: true }, 30_000, options).delayMs, 0);
  assert.equal(nextStart(looping, 30_000, { initialMs: 0 }).delayMs, 0);
});

Deno.test("noteStart() keeps the record in its file across runs, and a clean stop in it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = startFile(`${dir}/state`, "plays", "consumers");
    const options = { initialMs: 1_000 };
    await noteStart(file, 0, options); // killed
    await noteStart(file, 1_000, options); // killed
    const third = await noteStart(file, 2_000, options);
    assert.deepEqual([third.crashes, third.delayMs], [2, 1_000]);
    await third.stopped();
    assert.equal((await noteStart(file, 3_000, options)).delayMs, 0);
    // A file that is not a record counts as no record.
    await Deno.writeTextFile(file, "garbage");
    assert.equal((await noteStart(file, 4_000, options)).crashes, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
