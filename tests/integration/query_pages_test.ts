import assert from "node:assert/strict";
import { loadBigQueryConfig } from "../../shared/bigquery/options.ts";
import { test } from "../support/integration.ts";

import "../support/lenient_env.ts";
const { isTransientBigQueryError, openWarehouse, queryPages } = await import(
  "../../shared/bigquery/mod.ts"
);

// Against the local BigQuery of `deno task up` (or BIGQUERY_EMULATOR_HOST).
const LOCAL_BIGQUERY = Deno.env.get("BIGQUERY_EMULATOR_HOST") ?? "http://127.0.0.1:9050";

function warehouseAt(emulatorHost: string, requestTimeoutMs = 30_000) {
  return openWarehouse(loadBigQueryConfig(["--emulator-host", emulatorHost], {}), {
    requestTimeoutMs,
  });
}

test("queryPages() reads a large answer a page at a time, cells as text and NULL as null (local BigQuery)", async () => {
  const warehouse = warehouseAt(LOCAL_BIGQUERY);
  const pages: number[] = [];
  const seen: unknown[] = [];
  let totals = new Set<number | undefined>();
  await queryPages(
    warehouse,
    `SELECT x, IF(MOD(x, 2) = 0, NULL, CONCAT('song ', CAST(x AS STRING))) AS name
     FROM UNNEST(GENERATE_ARRAY(1, 2500)) AS x ORDER BY x`,
    (rows, total) => {
      pages.push(rows.length);
      totals = totals.add(total);
      for (const row of rows) seen.push(row);
    },
    { pageRows: 1_000 },
  );
  assert.deepEqual(pages, [1_000, 1_000, 500]);
  assert.deepEqual([...totals], [2_500]);
  assert.deepEqual(seen[0], { x: "1", name: "song 1" });
  assert.deepEqual(seen[1], { x: "2", name: null });
  assert.deepEqual(seen.map((row) => Number((row as { x: string }).x)), [
    ...Array.from({ length: 2_500 }, (_, i) => i + 1),
  ]);
});

test("queryPages() rejects bad SQL and a missing table as errors not worth retrying (local BigQuery)", async () => {
  const warehouse = warehouseAt(LOCAL_BIGQUERY);
  const missing = `livecharts-local.music.missing_${crypto.randomUUID().slice(0, 8)}`;
  for (const sql of ["SELEC 1", `SELECT COUNT(*) AS n FROM \`${missing}\``]) {
    let pages = 0;
    const error = await queryPages(warehouse, sql, () => pages++).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(error instanceof Error, `${sql} rejected`);
    assert.equal(isTransientBigQueryError(error), false, `${sql}: ${error.message}`);
    assert.equal(pages, 0);
  }
});

/**
 * A stand-in for BigQuery's REST API as documented (jobs.insert, then
 * jobs.getQueryResults), answering the results requests from `answers` in
 * turn: what the local BigQuery cannot produce (a job not complete yet, a
 * quota error, a page that never comes: `"hang"`).
 */
function startStandIn(answers: ({ status: number; body: unknown } | "hang")[]) {
  const requests: URL[] = [];
  /** The `Authorization` header of every request, the job's first. */
  const authorizations: (string | null)[] = [];
  const hanging = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    authorizations.push(req.headers.get("authorization"));
    if (req.method === "POST" && url.pathname.endsWith("/jobs")) {
      const job: { jobReference?: { projectId?: string; jobId?: string } } = await req.json();
      return Response.json({
        jobReference: { ...job.jobReference, location: "EU" },
        status: { state: "RUNNING" },
      });
    }
    requests.push(url);
    const answer = answers.shift() ?? { status: 500, body: { error: { message: "no more" } } };
    if (answer === "hang") {
      await hanging.promise;
      return new Response(null, { status: 504 });
    }
    return Response.json(answer.body, { status: answer.status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    authorizations,
    close: () => {
      hanging.resolve();
      return server.shutdown();
    },
  };
}

const SCHEMA = { fields: [{ name: "artist", type: "STRING" }, { name: "plays", type: "INTEGER" }] };

test("queryPages() asks again while the job is not complete, and follows page tokens (stand-in)", async () => {
  const standIn = startStandIn([
    { status: 200, body: { jobComplete: false } },
    {
      status: 200,
      body: {
        jobComplete: true,
        schema: SCHEMA,
        totalRows: "3",
        pageToken: "page-2",
        rows: [{ f: [{ v: "a" }, { v: "1" }] }, { f: [{ v: "b" }, { v: "2" }] }],
      },
    },
    {
      status: 200,
      body: {
        jobComplete: true,
        schema: SCHEMA,
        totalRows: "3",
        rows: [{ f: [{ v: "c" }, { v: null }] }],
      },
    },
  ]);
  try {
    const rows: unknown[] = [];
    await queryPages(warehouseAt(standIn.url), "SELECT 1", (page) => rows.push(...page), {
      pageRows: 2,
    });
    assert.deepEqual(rows, [
      { artist: "a", plays: "1" },
      { artist: "b", plays: "2" },
      { artist: "c", plays: null },
    ]);
    assert.equal(standIn.requests.length, 3);
    assert.deepEqual(standIn.requests.map((url) => url.searchParams.get("pageToken")), [
      null,
      null,
      "page-2",
    ]);
    for (const url of standIn.requests) {
      assert.equal(url.searchParams.get("maxResults"), "2");
      assert.equal(url.searchParams.get("location"), "EU");
      assert.match(url.pathname, /\/bigquery\/v2\/projects\/[^/]+\/queries\/[^/]+$/);
    }
  } finally {
    await standIn.close();
  }
});

test("queryPages() reports BigQuery's error answers with their status and reasons (stand-in)", async () => {
  const cases = [
    {
      status: 403,
      reason: "rateLimitExceeded",
      message: "Exceeded rate limits: too many table update operations",
      transient: true,
    },
    { status: 403, reason: "accessDenied", message: "Access Denied: Table", transient: false },
    { status: 400, reason: "invalidQuery", message: "Syntax error", transient: false },
    { status: 503, reason: "backendError", message: "Backend error", transient: true },
  ];
  for (const { status, reason, message, transient } of cases) {
    const standIn = startStandIn([{
      status,
      body: { error: { code: status, message, errors: [{ reason, message }] } },
    }]);
    try {
      let pages = 0;
      const error = await queryPages(warehouseAt(standIn.url), "SELECT 1", () => pages++).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(error instanceof Error, `${status} ${reason} rejected`);
      assert.equal(
        error.message,
        `Cannot read query results: BigQuery answered ${status} (${reason}): ${message}`,
      );
      assert.equal(isTransientBigQueryError(error), transient, `${status} ${reason}`);
      assert.equal(pages, 0);
      assert.equal(standIn.requests.length, 1);
    } finally {
      await standIn.close();
    }
  }
});

test("queryPages() gives up on a page that never comes, with a transient error (stand-in)", async () => {
  const standIn = startStandIn(["hang"]);
  try {
    const started = Date.now();
    const error = await queryPages(warehouseAt(standIn.url, 500), "SELECT 1", () => {}).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(error instanceof Error, "rejected");
    assert.equal(
      error.message,
      "Cannot finish a page of query results: no answer from BigQuery within 500 ms",
    );
    assert.equal(isTransientBigQueryError(error), true);
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
    assert.equal(standIn.requests.length, 1, "the page was asked for");
  } finally {
    await standIn.close();
  }
});

test("queryPages() with real credentials sends the client's authorization with the job and every page (stand-in)", async () => {
  // A service-account key made for the test; Google's token endpoint is
  // fixed in the auth library and not reachable here, so the auth client's
  // answer is set, and what is checked is that both the client's request
  // (the job) and ours (the pages) carry it.
  const key = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", key.privateKey));
  const pem = `-----BEGIN PRIVATE KEY-----\n${
    btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n")
  }\n-----END PRIVATE KEY-----\n`;
  const dir = await Deno.makeTempDir();
  const file = `${dir}/key.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      type: "service_account",
      project_id: "livecharts-test",
      private_key: pem,
      client_email: "livecharts@livecharts-test.iam.gserviceaccount.com",
    }),
  );
  const standIn = startStandIn([
    {
      status: 200,
      body: {
        jobComplete: true,
        schema: SCHEMA,
        pageToken: "2",
        rows: [{ f: [{ v: "a" }, { v: "1" }] }],
      },
    },
    {
      status: 200,
      body: { jobComplete: true, schema: SCHEMA, rows: [{ f: [{ v: "b" }, { v: "2" }] }] },
    },
  ]);
  try {
    const warehouse = openWarehouse(
      loadBigQueryConfig(["--credentials", file, "--project", "livecharts-test"], {}),
    );
    assert.equal(warehouse.mode, "cloud");
    warehouse.client.baseUrl = `${standIn.url}/bigquery/v2`;
    const auth = warehouse.client.authClient;
    const token = "Bearer token-for-the-test";
    auth.getRequestHeaders = () => Promise.resolve(new Headers({ authorization: token }));
    auth.authorizeRequest = (options = {}) =>
      Promise.resolve({ ...options, headers: new Headers({ authorization: token }) });
    const rows: unknown[] = [];
    await queryPages(warehouse, "SELECT 1", (page) => rows.push(...page));
    assert.deepEqual(rows, [{ artist: "a", plays: "1" }, { artist: "b", plays: "2" }]);
    assert.deepEqual(standIn.authorizations, [token, token, token]);
    assert.equal(standIn.requests.length, 2);
    for (const url of standIn.requests) {
      assert.match(url.pathname, /\/projects\/livecharts-test\/queries\//);
    }
  } finally {
    await standIn.close();
    await Deno.remove(dir, { recursive: true });
  }
});
