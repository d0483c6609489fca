import assert from "node:assert/strict";
import { createIdSet, idHash } from "../../shared/live/counting/id_set.ts";
import { createRecentIds } from "../../shared/live/counting/recent_ids.ts";

Deno.test("createIdSet() adds each id once", () => {
  const seen = createIdSet(16);
  assert.equal(seen.add("0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a"), true);
  assert.equal(seen.add("0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a"), false);
  assert.equal(seen.has("0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7a"), true);
  assert.equal(seen.has("0f8e1b5c-8a3e-4c4e-9d55-0c2a9d1f6b7b"), false);
  assert.equal(seen.size, 1);
});

Deno.test("createIdSet() keeps every id while growing", () => {
  const seen = createIdSet(16);
  const ids = Array.from({ length: 50_000 }, () => crypto.randomUUID());
  for (const id of ids) assert.equal(seen.add(id), true);
  assert.equal(seen.size, ids.length);
  for (const id of ids) assert.equal(seen.add(id), false);
  assert.equal(seen.size, ids.length);
  // 16 bytes a slot at no more than half load.
  assert.ok(seen.bytes <= ids.length * 4 * 8, `bytes ${seen.bytes}`);
});

Deno.test("idHash() separates ids that differ in one character anywhere", () => {
  const base = "00000000-0000-4000-8000-000000000000";
  const hashes = new Set<string>();
  for (let i = 0; i < base.length; i++) {
    if (base[i] === "-") continue;
    for (const c of "0123456789abcdef") {
      if (c === base[i]) continue;
      hashes.add(idHash(base.slice(0, i) + c + base.slice(i + 1)).join(":"));
    }
  }
  hashes.add(idHash(base).join(":"));
  assert.equal(hashes.size, 32 * 15 + 1);
});

Deno.test("idHash() has no collision across sequential ids", () => {
  const hashes = new Set<string>();
  for (let i = 0; i < 200_000; i++) {
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
    hashes.add(idHash(id).join(":"));
  }
  assert.equal(hashes.size, 200_000);
});

Deno.test("createRecentIds() holds the ids of the horizon only, so memory follows the rate", () => {
  const minute = 60_000;
  const seen = createRecentIds({ horizonMs: minute, now: 0 });
  // An hour at 100 plays a second, the clock moving with them.
  let last = "";
  for (let second = 0; second < 3_600; second++) {
    seen.advance(second * 1_000);
    for (let i = 0; i < 100; i++) {
      last = `${second}-${i}`;
      assert.equal(seen.add(last), true);
    }
  }
  assert.equal(seen.add(last), false, "a recent id is a duplicate");
  // Between one and two horizons of ids: 6,000 to 12,000, not 360,000.
  assert.ok(seen.size >= 6_000 && seen.size <= 12_000, `size ${seen.size}`);
  assert.ok(seen.bytes <= 2 * 32_768 * 8, `bytes ${seen.bytes}`);
  assert.throws(() => createRecentIds({ horizonMs: 0 }), /'horizonMs' must be positive/);
});
