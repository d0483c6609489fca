import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("deno.json freezes the lock: no deno command of a task or of CI rewrites deno.lock", async () => {
  const config: unknown = JSON.parse(await read("deno.json"));
  const lock = typeof config === "object" && config !== null && "lock" in config
    ? config.lock
    : undefined;
  assert.deepEqual(lock, { path: "deno.lock", frozen: true });
  const ci = await read(".ci/run");
  assert.match(ci, /^bash \.ci\/check_lock\.sh$/m, "CI stops when the lock would change");
  assert.match(await read(".ci/check_lock.sh"), /deno install --frozen/);
});

Deno.test("CI installs and checks one Deno version, the one the tests run on", async () => {
  const ci = await read(".ci/run");
  const pinned = /^DENO_VERSION=(\d+\.\d+\.\d+)$/m.exec(ci)?.[1];
  assert.equal(pinned, Deno.version.deno);
  assert.match(ci, /npm install -g "deno@\$DENO_VERSION"/);
  assert.match(ci, /\[\[ \$deno_found == "\$DENO_VERSION" \]\] \|\|\n\s+fail /);
});

Deno.test("the BigQuery emulator's Python packages are installed by hash, every one pinned", async () => {
  const requirements = await read("infra/bigquery/requirements.txt");
  const entries = requirements.replaceAll("\\\n", " ").split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  assert.ok(entries.length > 70, String(entries.length));
  for (const entry of entries) {
    assert.match(
      entry,
      /^[A-Za-z0-9_.-]+(\[[a-z,]+\])?==[^ ]+ +--hash=sha256:[0-9a-f]{64}$/,
      entry,
    );
  }
  assert.ok(entries.some((entry) => entry.startsWith("setuptools==")), "grpcio-tools needs it");
  for (const file of ["infra/services.sh", "infra/bigquery/Dockerfile"]) {
    assert.match(await read(file), /pip install [^\n]*\n?[^\n]*--require-hashes/, file);
  }
});

Deno.test("Maven fails on a bad checksum and runs a pinned dependency plugin", async () => {
  assert.equal((await read("infra/kafka/.mvn/maven.config")).trim(), "--strict-checksums");
  assert.match(await read("infra/services.sh"), /mvn -B --strict-checksums -f/);
  assert.match(
    await read("infra/kafka/pom.xml"),
    /<artifactId>maven-dependency-plugin<\/artifactId>\s*<version>\d+\.\d+\.\d+<\/version>/,
  );
});

Deno.test("docker compose builds the local BigQuery image, never pulls it", async () => {
  const compose = await read("docker-compose.yaml");
  const bigquery = compose.slice(compose.indexOf("\n  bigquery:"), compose.indexOf("\n  kafka-1:"));
  assert.match(bigquery, /\n {4}build: infra\/bigquery\n/);
  assert.match(bigquery, /\n {4}pull_policy: build\n/);
});
