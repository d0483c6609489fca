/**
 * Artists ordered most played first, ties by name, fast enough for 100,000
 * artists on every tick: the name order is kept (new artists are slotted
 * in, the whole order sorted again only when many came at once), and the
 * order by plays is a stable radix sort of the artists taken in name order,
 * with no comparator calls and no object per artist.
 *
 * @module
 */

import { grown } from "./grown.ts";

/** Artists' places in name order, kept as artists are added. */
export interface NameOrder {
  /** Artist index → place in name order (valid until the next artist is added). */
  places(): Int32Array;
  /** Place → artist index (valid until the next artist is added). */
  byPlace(): Int32Array;
}

/** Sorting all again beats slotting in when this many artists came since. */
const RESORT_AFTER = 512;

/**
 * Keeps the name order of `names` (artist index → name), which only grows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNameOrder } from "./artist_order.ts";
 * const names = ["tony-allen", "fela-kuti"];
 * const order = createNameOrder(names);
 * assert.deepEqual([...order.byPlace()], [1, 0]);
 * names.push("ebo-taylor");
 * assert.deepEqual([...order.byPlace()], [2, 1, 0]);
 * assert.deepEqual([...order.places()], [2, 1, 0]);
 * ```
 */
export function createNameOrder(names: readonly string[]): NameOrder {
  let sorted: number[] = [];
  let places = new Int32Array(0);
  let byPlace = new Int32Array(0);
  let placed = 0; // names[0 .. placed) are in `sorted` and `places`

  function update(): void {
    if (placed === names.length) return;
    const byName = (a: number, b: number) => (names[a]! < names[b]! ? -1 : 1);
    if (names.length - placed > RESORT_AFTER) {
      sorted = Array.from({ length: names.length }, (_, i) => i).sort(byName);
    } else {
      for (let index = placed; index < names.length; index++) {
        let lo = 0;
        let hi = sorted.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (names[sorted[mid]!]! < names[index]!) lo = mid + 1;
          else hi = mid;
        }
        sorted.splice(lo, 0, index);
      }
    }
    placed = names.length;
    places = new Int32Array(placed);
    for (let place = 0; place < sorted.length; place++) places[sorted[place]!] = place;
    byPlace = Int32Array.from(sorted);
  }

  return {
    places() {
      update();
      return places;
    },
    byPlace() {
      update();
      return byPlace;
    },
  };
}

/** Plays above this all rank alike (then by name). */
const MOST = 0xffffffff;

/**
 * The artists with plays (`totalOf(id) > 0`, whole numbers), most played
 * first, ties by name (`names`, from {@linkcode createNameOrder}): the artists
 * are read in name order and sorted by plays with a stable radix sort (two
 * passes of 16 bits), so ties keep their name order and no comparator runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNameOrder, orderByTotal } from "./artist_order.ts";
 * const names = createNameOrder(["c", "a", "b", "d"]);
 * const totals = [5, 3, 5, 0];
 * assert.deepEqual([...orderByTotal((id) => totals[id]!, names)], [2, 0, 1]);
 * ```
 */
export function orderByTotal(totalOf: (id: number) => number, names: NameOrder): Int32Array {
  const byPlace = names.byPlace();
  let ids = new Int32Array(byPlace.length);
  let keys = new Uint32Array(byPlace.length);
  let count = 0;
  for (const id of byPlace) {
    const total = totalOf(id);
    if (!(total > 0)) continue;
    ids[count] = id;
    keys[count++] = MOST - Math.min(MOST, total);
  }
  let nextIds = new Int32Array(count);
  let nextKeys = new Uint32Array(count);
  const counts = new Int32Array(65_536);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < count; i++) counts[(keys[i]! >>> shift) & 0xffff]!++;
    let at = 0;
    for (let digit = 0; digit < 65_536; digit++) {
      const n = counts[digit]!;
      counts[digit] = at;
      at += n;
    }
    for (let i = 0; i < count; i++) {
      const to = counts[(keys[i]! >>> shift) & 0xffff]!++;
      nextIds[to] = ids[i]!;
      nextKeys[to] = keys[i]!;
    }
    [ids, nextIds] = [nextIds, ids];
    [keys, nextKeys] = [nextKeys, keys];
  }
  return ids.slice(0, count);
}

/** Finds artists by part of their name. */
export interface NameSearch {
  /** Indexes of the artists whose name contains `part`, in index order. */
  find(part: string): number[];
}

/**
 * Searches `names` (artist index → name, which only grows) through one
 * string of them all, so a search is a few native `indexOf` calls rather
 * than one call per artist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createNameSearch } from "./artist_order.ts";
 * const names = ["tony-allen", "fela-kuti", "allen-toussaint"];
 * const search = createNameSearch(names);
 * assert.deepEqual(search.find("allen"), [0, 2]);
 * names.push("ebo-taylor");
 * assert.deepEqual(search.find("ta"), [3]);
 * assert.deepEqual(search.find("n-t"), [2]);
 * ```
 */
export function createNameSearch(names: readonly string[]): NameSearch {
  let joined = "";
  let starts = new Int32Array(64);
  let added = 0;

  function update(): void {
    if (added === names.length) return;
    starts = grown(starts, names.length, (n) => new Int32Array(n));
    const parts: string[] = [joined];
    let at = joined.length;
    for (; added < names.length; added++) {
      starts[added] = at;
      parts.push(names[added]!, "\n");
      at += names[added]!.length + 1;
    }
    joined = parts.join("");
  }

  /** Index of the name holding position `at` of the joined string. */
  function nameAt(at: number): number {
    let lo = 0;
    let hi = added - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  return {
    find(part) {
      update();
      const found: number[] = [];
      if (part.includes("\n")) return found;
      for (let at = joined.indexOf(part); at >= 0;) {
        const index = nameAt(at);
        found.push(index);
        const next = index + 1 < added ? starts[index + 1]! : joined.length;
        at = joined.indexOf(part, next);
      }
      return found;
    },
  };
}
