import assert from "node:assert/strict";
import {
  addSecret,
  redact,
  REDACTED,
  redactPrivateKeys,
  redactSecrets,
  secretForms,
} from "../../shared/ops/redact.ts";
import { formatRecord } from "../../shared/ops/log.ts";

const SECRET = 'S3cr3t/pa"ss+wörd';

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("redact() replaces every occurrence of each secret", () => {
  assert.equal(redact("a hunter2 b hunter2", ["hunter2"]), `a ${REDACTED} b ${REDACTED}`);
  assert.equal(redact("x-one-y-two", ["one", "two"]), `x-${REDACTED}-y-${REDACTED}`);
  assert.equal(redact("nothing here", ["hunter2"]), "nothing here");
  assert.equal(redact("keep", ["", undefined]), "keep", "empty secrets are ignored");
});

Deno.test("redact() catches JSON-escaped and URL-encoded spellings", () => {
  const json = JSON.stringify({ password: SECRET });
  assert.equal(redact(json, [SECRET]), `{"password":"${REDACTED}"}`);
  const url = `https://host/?p=${encodeURIComponent(SECRET)}&x=1`;
  assert.equal(redact(url, [SECRET]), `https://host/?p=${REDACTED}&x=1`);
});

Deno.test("redact() catches the secret base64-encoded inside a longer value", () => {
  const bytes = new TextEncoder().encode(SECRET);
  // A SASL PLAIN message, with user names putting the password at every alignment.
  for (const user of ["u", "us", "use", "user"]) {
    const message = new Uint8Array([0, ...new TextEncoder().encode(user), 0, ...bytes]);
    const encoded = base64(message);
    const redacted = redact(`auth=${encoded}`, [SECRET]);
    assert.ok(redacted.includes(REDACTED), `user ${user}: ${redacted}`);
    for (const form of secretForms(SECRET)) assert.ok(!redacted.includes(form));
  }
  assert.ok(!redact(base64(bytes), [SECRET]).includes(base64(bytes).slice(0, 20)));
});

Deno.test("secretForms() lists the longest spelling first", () => {
  const forms = secretForms(SECRET);
  assert.ok(forms.includes(SECRET));
  assert.ok(forms.includes(JSON.stringify(SECRET).slice(1, -1)));
  assert.ok(forms.includes(encodeURIComponent(SECRET)));
  assert.deepEqual(forms, [...forms].sort((a, b) => b.length - a.length));
  assert.deepEqual(secretForms("abc"), ["abc"], "no base64 forms for very short secrets");
});

Deno.test("redactPrivateKeys() removes PEM blocks and service-account keys", () => {
  const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----";
  assert.equal(redactPrivateKeys(`key: ${pem} end`), `key: ${REDACTED} end`);
  assert.equal(
    redactPrivateKeys(`-----BEGIN RSA PRIVATE KEY-----\nMIIE...cut`),
    REDACTED,
    "a truncated key too",
  );
  const file = JSON.stringify({ type: "service_account", private_key: `${pem}\n`, id: "x" });
  assert.equal(
    redactPrivateKeys(file),
    `{"type":"service_account","private_key": "${REDACTED}","id":"x"}`,
  );
  assert.equal(
    redactPrivateKeys("-----BEGIN CERTIFICATE-----\nMIIB"),
    "-----BEGIN CERTIFICATE-----\nMIIB",
  );
});

Deno.test("formatRecord() redacts registered secrets from every line", () => {
  const secret = `registered-${crypto.randomUUID()}`;
  assert.equal(redactSecrets(`x ${secret}`), `x ${secret}`, "not registered yet");
  addSecret(secret);
  addSecret("");
  assert.equal(redactSecrets(`x ${secret}`), `x ${REDACTED}`);
  const line = formatRecord({
    category: ["livecharts", "kafka"],
    level: "error",
    message: ["auth failed with ", secret, ""],
    rawMessage: "auth failed with {password}",
    timestamp: Date.UTC(2024, 0, 1),
    properties: { password: secret, detail: { nested: secret }, other: "ok" },
  });
  assert.ok(!line.includes(secret), line);
  assert.match(line, /auth failed with \[redacted\] detail=\{"nested":"\[redacted\]"\} other=ok/);
});
