/**
 * Keeps secrets (SASL passwords, private keys) out of logs and error text.
 *
 * {@linkcode redact} is pure. {@linkcode addSecret} registers a secret for the
 * whole process, and {@linkcode redactSecrets} (applied by the log formatter
 * to every line, and by scripts to any text they print themselves) removes
 * every registered secret plus anything shaped like a private key.
 *
 * @module
 */

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The spellings of `secret` that can end up in text: as is, JSON-escaped,
 * URL-encoded, and base64-encoded at each of the three byte alignments it can
 * have inside a longer encoded value (a SASL PLAIN message is
 * `\0user\0password`), without the characters that depend on its neighbours.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]);
  const bytes = encoder.encode(secret);
  if (bytes.length >= 6) {
    for (let shift = 0; shift < 3; shift++) {
      const padded = new Uint8Array(shift + bytes.length);
      padded.set(bytes, shift);
      const encoded = base64(padded).replace(/=+$/, "");
      // Characters mixing in a neighbour's bits: the first ones after a shift,
      // the last one unless the secret ends on a 3-byte boundary.
      const start = shift === 0 ? 0 : shift + 1;
      const end = padded.length % 3 === 0 ? encoded.length : encoded.length - 1;
      forms.add(encoded.slice(start, end));
    }
  }
  return [...forms].filter((form) => form !== "").sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of each secret in `text` (in any of its
 * {@linkcode secretForms}) with `[redacted]`. Empty secrets are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redact } from "./redact.ts";
 * assert.equal(
 *   redact("login failed for password hunter2-x", ["hunter2-x"]),
 *   "login failed for password [redacted]",
 * );
 * ```
 */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret) { for (const form of secretForms(secret)) forms.add(form); }
  }
  let result = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    result = result.replaceAll(form, REDACTED);
  }
  return result;
}

// A PEM private key (also JSON-escaped, as in a service-account key file),
// complete or cut off.
const PRIVATE_KEY =
  /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(?:[\s\S]*?-----END \1PRIVATE KEY-----|[\s\S]*$)/g;
const JSON_PRIVATE_KEY = /"private_key"\s*:\s*"(?:[^"\\]|\\.)*"?/g;

/**
 * Removes private keys (PEM blocks, a service-account file's `private_key`
 * field) from `text`, whoever's they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactPrivateKeys } from "./redact.ts";
 * assert.equal(
 *   redactPrivateKeys('{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE..."}'),
 *   '{"private_key": "[redacted]"}',
 * );
 * ```
 */
export function redactPrivateKeys(text: string): string {
  return text.replace(JSON_PRIVATE_KEY, `"private_key": "${REDACTED}"`)
    .replace(PRIVATE_KEY, REDACTED);
}

const registered = new Set<string>();

/** Registers a secret for {@linkcode redactSecrets} (no-op for empty values). */
export function addSecret(secret: string | undefined): void {
  if (secret) registered.add(secret);
}

/**
 * {@linkcode redact} with every secret registered so far, then
 * {@linkcode redactPrivateKeys}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addSecret, redactSecrets } from "./redact.ts";
 * addSecret("s3cr3t-example");
 * assert.equal(redactSecrets("auth with s3cr3t-example"), "auth with [redacted]");
 * ```
 */
export function redactSecrets(text: string): string {
  return redactPrivateKeys(registered.size === 0 ? text : redact(text, registered));
}
