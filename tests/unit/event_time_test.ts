import assert from "node:assert/strict";
import { isCanonicalTimestamp, parseEventTime } from "../../shared/event_time.ts";
import { fixedIntegers } from "../support/seed.ts";

Deno.test("parseEventTime() answers what Date.parse answers, canonical or not", () => {
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  const random = fixedIntegers(7);
  const years = [0, 1, 99, 100, 1900, 1970, 2000, 2023, 2024, 2100, 9999];
  for (let i = 0; i < 50_000; i++) {
    const text = `${pad(years[random(years.length)]!, 4)}-${pad(random(14), 2)}-${
      pad(random(33), 2)
    }T${pad(random(26), 2)}:${pad(random(61), 2)}:${pad(random(61), 2)}.${pad(random(1000), 3)}Z`;
    assert.deepEqual(parseEventTime(text), Date.parse(text), text);
  }
  for (
    const text of ["2026-12-05T09:00:00Z", "2026-12-05 09:00:00", "x", "2024-02-29T00:00:00.000Z"]
  ) {
    assert.deepEqual(parseEventTime(text), Date.parse(text), text);
  }
});

Deno.test("isCanonicalTimestamp() accepts exactly the texts a Date writes back unchanged", () => {
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  const random = fixedIntegers(11);
  const years = [0, 1, 99, 100, 1900, 2023, 2024, 2100, 9999];
  const separators = ["T", "T", "T", " "];
  let accepted = 0;
  for (let i = 0; i < 50_000; i++) {
    const text = `${pad(years[random(years.length)]!, 4)}-${pad(random(14), 2)}-${
      pad(random(33), 2)
    }${separators[random(4)]}${pad(random(26), 2)}:${pad(random(61), 2)}:${pad(random(61), 2)}.${
      pad(random(1000), 3)
    }Z`;
    const ms = Date.parse(text);
    const roundTrip = Number.isFinite(ms) && new Date(ms).toISOString() === text &&
      !text.startsWith("0000");
    assert.equal(isCanonicalTimestamp(text), roundTrip, text);
    if (roundTrip) accepted++;
  }
  // Both verdicts occur often enough to mean something.
  assert.ok(accepted > 5_000 && accepted < 45_000, `${accepted} accepted`);
  for (
    const text of ["2026-12-05T09:00:00Z", "2026-12-05T09:00:00.000+00:00", "", "x".repeat(24)]
  ) {
    assert.equal(isCanonicalTimestamp(text), false, text);
  }
});
