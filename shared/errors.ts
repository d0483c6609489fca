/**
 * Errors as every stage needs them: the message of anything thrown, for
 * logs and error lines. The ground floor, beside `event.ts`: it imports
 * nothing.
 *
 * @module
 */

/**
 * Message of an unknown error: an `Error`'s message, anything else as text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorMessage } from "./errors.ts";
 * assert.equal(errorMessage(new Error("Cannot connect")), "Cannot connect");
 * assert.equal(errorMessage("timeout"), "timeout");
 * assert.equal(errorMessage(undefined), "undefined");
 * ```
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
