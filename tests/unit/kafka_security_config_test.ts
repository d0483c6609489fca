// Unit tests of the Kafka security settings: SASL/TLS options in
// shared/kafka/options.ts, secret options in shared/cli/options.ts, and what
// shared/kafka/client.ts builds from them.

import assert from "node:assert/strict";
import {
  kafkaOptions,
  loadKafkaConfig as loadConfig,
  saslMechanism,
} from "../../shared/kafka/options.ts";
import { formatHelp, OptionError, parseOptions, text } from "../../shared/cli/options.ts";

import "../support/lenient_env.ts";
const { kafkaSecurity, safeLogField } = await import("../../shared/kafka/client.ts");

const PASSWORD = "pa55-Wörd\"with'quotes";
const CREDENTIALS = { KAFKA_SASL_USERNAME: "app", KAFKA_SASL_PASSWORD: PASSWORD };

function rejects(args: string[], env: Record<string, string>, message: string | RegExp): string {
  let text = "";
  assert.throws(() => loadConfig(args, env), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    text = error.message;
    return true;
  });
  return text;
}

Deno.test("loadConfig() has no SASL and no TLS by default", () => {
  const config = loadConfig([], {});
  assert.equal(config.saslMechanism, undefined);
  assert.equal(config.saslUsername, undefined);
  assert.equal(config.saslPassword, undefined);
  assert.equal(config.ssl, false);
  assert.equal(config.sslCa, undefined);
  assert.equal(config.sslRejectUnauthorized, true);
  assert.deepEqual(kafkaSecurity(config), {});
});

Deno.test("loadConfig() reads SASL settings from variables and flags", () => {
  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"]) {
    const config = loadConfig([], { KAFKA_SASL_MECHANISM: mechanism, ...CREDENTIALS });
    assert.equal(config.saslMechanism, mechanism);
    assert.equal(config.saslUsername, "app");
    assert.equal(config.saslPassword, PASSWORD);
  }
  const flags = loadConfig(
    ["--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username=bob", "--sasl-password", "pw"],
    CREDENTIALS,
  );
  assert.equal(flags.saslMechanism, "scram-sha-512", "any case, normalized");
  assert.equal(flags.saslUsername, "bob", "a flag wins over the variable");
  assert.equal(flags.saslPassword, "pw");
});

Deno.test("loadConfig() names the missing SASL credentials", () => {
  rejects(
    [],
    { KAFKA_SASL_MECHANISM: "plain" },
    "SASL mechanism plain needs KAFKA_SASL_USERNAME (--sasl-username) and " +
      "KAFKA_SASL_PASSWORD (--sasl-password), which are unset",
  );
  rejects(
    ["--sasl-mechanism", "scram-sha-256"],
    { KAFKA_SASL_USERNAME: "app" },
    "SASL mechanism scram-sha-256 needs KAFKA_SASL_PASSWORD (--sasl-password), which is unset",
  );
  rejects(
    [],
    { KAFKA_SASL_MECHANISM: "scram-sha-512", KAFKA_SASL_PASSWORD: PASSWORD },
    "SASL mechanism scram-sha-512 needs KAFKA_SASL_USERNAME (--sasl-username), which is unset",
  );
  // An empty variable is unset.
  rejects(
    [],
    { KAFKA_SASL_MECHANISM: "plain", ...CREDENTIALS, KAFKA_SASL_PASSWORD: "" },
    /is unset$/,
  );
});

Deno.test("loadConfig() rejects SASL credentials without a mechanism", () => {
  const message = rejects(
    [],
    CREDENTIALS,
    "SASL credentials are set but KAFKA_SASL_MECHANISM (--sasl-mechanism) is not: " +
      "set it to plain, scram-sha-256 or scram-sha-512",
  );
  assert.ok(!message.includes(PASSWORD));
  rejects(["--sasl-username", "app"], {}, /KAFKA_SASL_MECHANISM \(--sasl-mechanism\) is not/);
});

Deno.test("loadConfig() rejects an unknown mechanism without echoing the password", () => {
  const message = rejects(
    [],
    { KAFKA_SASL_MECHANISM: "gssapi", ...CREDENTIALS },
    `Invalid --sasl-mechanism (KAFKA_SASL_MECHANISM): must be one of plain, scram-sha-256, ` +
      `scram-sha-512, got "gssapi"`,
  );
  assert.ok(!message.includes(PASSWORD));
  assert.throws(() => saslMechanism("oauthbearer"), { message: /got "oauthbearer"$/ });
  assert.equal(saslMechanism(" Plain "), "plain");
});

Deno.test("loadConfig() turns TLS on with KAFKA_SSL or a CA file", () => {
  assert.equal(loadConfig([], { KAFKA_SSL: "true" }).ssl, true);
  assert.equal(loadConfig(["--ssl"], {}).ssl, true);
  assert.equal(loadConfig([], { KAFKA_SSL: "0" }).ssl, false);
  const withCa = loadConfig([], { KAFKA_SSL_CA: "/etc/kafka/ca.pem" });
  assert.equal(withCa.ssl, true, "a CA file implies TLS");
  assert.equal(withCa.sslCa, "/etc/kafka/ca.pem");
  assert.equal(loadConfig(["--ssl-ca", "ca.pem"], {}).ssl, true);
  assert.equal(
    loadConfig(["--ssl-reject-unauthorized=false"], { KAFKA_SSL: "1" }).sslRejectUnauthorized,
    false,
  );
  assert.equal(
    loadConfig([], { KAFKA_SSL_REJECT_UNAUTHORIZED: "no" }).sslRejectUnauthorized,
    false,
  );
});

Deno.test("loadConfig() rejects contradicting or malformed TLS settings", () => {
  rejects(
    [],
    { KAFKA_SSL: "false", KAFKA_SSL_CA: "ca.pem" },
    "KAFKA_SSL_CA (--ssl-ca) needs TLS, but KAFKA_SSL (--ssl) is false",
  );
  rejects(
    [],
    { KAFKA_SSL: "maybe" },
    `Invalid --ssl (KAFKA_SSL): must be true or false, got "maybe"`,
  );
  rejects(
    [],
    { KAFKA_SSL_REJECT_UNAUTHORIZED: "sometimes" },
    /^Invalid --ssl-reject-unauthorized \(KAFKA_SSL_REJECT_UNAUTHORIZED\): must be true or false/,
  );
});

Deno.test("parseOptions() never echoes the value of a secret option", () => {
  const options = {
    token: {
      flag: "token",
      env: "TOKEN",
      arg: "SECRET",
      help: "API token",
      fallback: undefined,
      parse: text(/^[a-z]+$/, "lowercase letters"),
      secret: true,
    },
  };
  assert.throws(() => parseOptions(options, [], { TOKEN: "Hunter2!" }), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.equal(
      error.message,
      "Invalid --token (TOKEN): the value is not valid (not shown: it is a secret)",
    );
    return true;
  });
  assert.equal(parseOptions(options, ["--token=abc"], {}).token, "abc");
});

Deno.test("formatHelp() lists the security options but never a secret's default", () => {
  const help = formatHelp("deno task produce", "Producer.", {
    ...kafkaOptions,
    token: {
      flag: "token",
      arg: "SECRET",
      help: "API token",
      fallback: "built-in-secret",
      parse: String,
      secret: true,
    },
  });
  for (
    const line of [
      "--sasl-mechanism NAME",
      "[KAFKA_SASL_MECHANISM]",
      "--sasl-username NAME",
      "--sasl-password SECRET",
      "[KAFKA_SASL_PASSWORD]",
      "--ssl ",
      "(default: false, true with --ssl-ca)",
      "--ssl-ca FILE",
      "--ssl-reject-unauthorized ",
      "(default: true)",
    ]
  ) {
    assert.ok(help.includes(line), line);
  }
  assert.ok(!help.includes("built-in-secret"));
});

Deno.test("kafkaSecurity() builds kafkajs SASL settings", () => {
  assert.deepEqual(
    kafkaSecurity({ saslMechanism: "scram-sha-256", saslUsername: "app", saslPassword: "pw" }),
    { sasl: { mechanism: "scram-sha-256", username: "app", password: "pw" } },
  );
  assert.deepEqual(
    kafkaSecurity({ saslMechanism: "PLAIN", saslUsername: "app", saslPassword: "pw", ssl: true }),
    { sasl: { mechanism: "plain", username: "app", password: "pw" }, ssl: true },
  );
  assert.throws(
    () => kafkaSecurity({ saslMechanism: "plain", saslUsername: "app" }),
    { message: "Cannot use SASL plain without a user name and a password" },
  );
  assert.throws(
    () => kafkaSecurity({ saslMechanism: "aws", saslUsername: "app", saslPassword: "pw" }),
    {
      message: /^Cannot use SASL mechanism "aws": expected plain, scram-sha-256 or scram-sha-512$/,
    },
  );
});

Deno.test("kafkaSecurity() reads the CA file and keeps verification on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await Deno.writeTextFile(`${dir}/ca.pem`, pem);
    assert.deepEqual(kafkaSecurity({ sslCa: `${dir}/ca.pem` }), {
      ssl: { ca: [pem], rejectUnauthorized: true },
    });
    assert.deepEqual(
      kafkaSecurity({ ssl: true, sslCa: `${dir}/ca.pem`, sslRejectUnauthorized: false }),
      { ssl: { ca: [pem], rejectUnauthorized: false } },
    );
    assert.deepEqual(kafkaSecurity({ ssl: true, sslRejectUnauthorized: false }), {
      ssl: { rejectUnauthorized: false },
    });
    assert.deepEqual(kafkaSecurity({ ssl: false, sslRejectUnauthorized: false }), {});

    assert.throws(() => kafkaSecurity({ sslCa: `${dir}/missing.pem` }), {
      message: new RegExp(`^Cannot read the Kafka CA file "${dir}/missing\\.pem": `),
    });
    await Deno.writeTextFile(`${dir}/key.pem`, "-----BEGIN PRIVATE KEY-----\nsecret\n");
    assert.throws(() => kafkaSecurity({ sslCa: `${dir}/key.pem` }), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^Cannot use the Kafka CA file ".*key\.pem": expected PEM/);
      assert.ok(!error.message.includes("secret"), "the file's contents are not shown");
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safeLogField() drops credentials and protocol bytes from kafkajs log fields", () => {
  assert.equal(safeLogField("127.0.0.1:9094"), "127.0.0.1:9094");
  assert.equal(safeLogField(42), 42);
  assert.equal(safeLogField(new Uint8Array(12)), "<12 bytes>");
  assert.equal(safeLogField(new Error("boom")), "boom");
  assert.deepEqual(
    safeLogField({
      broker: "b:1",
      sasl: { mechanism: "plain", username: "u", password: "p" },
      password: "p",
      authBytes: new Uint8Array(3),
      data: { topics: ["t"], buffer: new Uint8Array(2), nested: [{ secretKey: "s", ok: 1 }] },
    }),
    { broker: "b:1", data: { topics: ["t"], nested: [{ ok: 1 }] } },
  );
});
