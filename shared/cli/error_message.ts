/**
 * The message of anything thrown, for logs and error lines.
 *
 * @module
 */

/**
 * Message of an unknown error: an `Error`'s message, anything else as text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorMessage } from "./error_message.ts";
 * assert.equal(errorMessage(new Error("Cannot connect")), "Cannot connect");
 * assert.equal(errorMessage("timeout"), "timeout");
 * assert.equal(errorMessage(undefined), "undefined");
 * ```
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
