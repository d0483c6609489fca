/**
 * The cap on what one query may bill (`maximumBytesBilled`): a query that
 * would scan more fails at once instead of costing more.
 *
 * @module
 */

import type { Option } from "../cli/options.ts";

const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/**
 * Parses a number of bytes: `5000000`, `500MB`, `50GB`, `1TiB`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBytes } from "./bytes_billed.ts";
 * assert.equal(parseBytes("50GB"), 50_000_000_000);
 * assert.equal(parseBytes("1 TiB"), 2 ** 40);
 * assert.equal(parseBytes("1000"), 1_000);
 * assert.throws(() => parseBytes("lots"), /must be a size like 50GB, 500MB or 1TiB, got "lots"/);
 * ```
 */
export function parseBytes(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(raw.trim());
  const unit = UNITS[(match?.[2] ?? "").toUpperCase()];
  const value = match === null || unit === undefined ? NaN : Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`must be a size like 50GB, 500MB or 1TiB, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Default cap of one dashboard query: 50 GB (about a year of a million plays a day). */
export const DEFAULT_MAX_BYTES_BILLED = 50e9;

/** `--max-bytes-billed`: the cap on every query the script sends. */
export const bytesBilledOptions = {
  maxBytesBilled: {
    flag: "max-bytes-billed",
    env: "BIGQUERY_MAX_BYTES_BILLED",
    arg: "SIZE",
    help: "Every query sets maximumBytesBilled to this: one that would bill more fails " +
      "(bytesBilledLimitExceeded) instead of costing more",
    fallback: DEFAULT_MAX_BYTES_BILLED,
    fallbackHelp: "50GB",
    parse: parseBytes,
  },
} satisfies Record<string, Option<number>>;
