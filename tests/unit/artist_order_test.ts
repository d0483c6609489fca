import assert from "node:assert/strict";
import {
  createNameOrder,
  createNameSearch,
  orderByTotal,
} from "../../shared/live/counting/artist_order.ts";

function randomNames(count: number, seed: number): string[] {
  let state = seed;
  const next = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31);
  return Array.from({ length: count }, (_, i) => `${(next() % 500).toString(36)}-${i % 7}-${i}`);
}

Deno.test("orderByTotal() equals sorting by plays then name, as artists keep coming", () => {
  const names: string[] = [];
  const order = createNameOrder(names);
  const all = randomNames(5_000, 3);
  // Small counts (many ties) and counts past 16 bits (both radix passes matter).
  const plays = all.map((_, i) => i % 3 === 0 ? (i * 7_919) % 40 : (i * 104_729) % 5_000_000);
  for (const batch of [10, 300, 2_000, 2_690]) {
    names.push(...all.slice(names.length, names.length + batch));
    const ids = names.map((_, id) => id).filter((id) => plays[id]! > 0);
    const got = [...orderByTotal((id) => (id < names.length ? plays[id]! : 0), order)];
    const expected = [...ids].sort((a, b) =>
      plays[b]! - plays[a]! || (names[a]! < names[b]! ? -1 : 1)
    );
    assert.deepEqual(got, expected, `after ${names.length} artists`);
  }
});

Deno.test("createNameSearch() finds every name containing a part, and only those", () => {
  const names: string[] = [];
  const search = createNameSearch(names);
  const all = randomNames(3_000, 11);
  for (const batch of [1, 999, 2_000]) {
    names.push(...all.slice(names.length, names.length + batch));
    for (const part of ["a", "-3-", "zz", "1-2", "-1", names[names.length - 1]!]) {
      const expected = names.map((name, id) => [name, id] as const)
        .filter(([name]) => name.includes(part)).map(([, id]) => id);
      assert.deepEqual(search.find(part), expected, `"${part}" in ${names.length} names`);
    }
  }
  assert.deepEqual(search.find("\n"), []);
});
