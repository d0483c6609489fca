/**
 * Reaching kafkajs' own modules, for the patches that replace what one of
 * them exports (`batch_patch.ts`, `record_decoder_patch.ts`).
 *
 * @module
 */

import { createRequire } from "node:module";
import "kafkajs/src/protocol/encoder.js";

const ENCODER_FILE = "/kafkajs/src/protocol/encoder.js";

/**
 * A `require` that resolves from kafkajs' protocol folder, found through the
 * loaded `encoder.js` (imported here): resolving a package by name would
 * search `node_modules` folders, which the scripts are not allowed to read.
 * `purpose` names the patch in errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kafkajsRequire } from "./kafkajs_modules.ts";
 * const require = kafkajsRequire("a test");
 * assert.equal(typeof require("./decoder.js"), "function");
 * ```
 */
export function kafkajsRequire(purpose: string): NodeJS.Require {
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  const encoder = loaded.find((file) => file.endsWith(ENCODER_FILE));
  if (encoder === undefined) {
    throw new Error(`Cannot install ${purpose}: kafkajs' encoder is not loaded`);
  }
  return createRequire(encoder);
}

/**
 * Replaces what kafkajs' module `path` (relative to its protocol folder)
 * exports, a function, by `make(the original)`, and returns the original.
 * Modules that took the export before keep the one they took.
 */
export function replaceExports(
  purpose: string,
  path: string,
  make: (kafkajs: (...args: unknown[]) => unknown) => (...args: never[]) => unknown,
): (...args: unknown[]) => unknown {
  const require = kafkajsRequire(purpose);
  const kafkajs: unknown = require(path);
  const entry = require.cache[require.resolve(path)];
  if (typeof kafkajs !== "function" || entry === undefined) {
    throw new Error(`Cannot install ${purpose}: kafkajs' ${path} is not 2.2.4's`);
  }
  const original = (...args: unknown[]) => Reflect.apply(kafkajs, undefined, args);
  entry.exports = make(original);
  return original;
}
