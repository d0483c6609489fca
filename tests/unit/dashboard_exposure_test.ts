import assert from "node:assert/strict";
import { parseOptions } from "../../shared/cli/options.ts";
import { planLaunch } from "../../shared/launch/launch.ts";
import { dashboardOptions } from "../../shared/tables/mod.ts";
import { granted, ROOT } from "../support/planned.ts";

Deno.test("the dashboard is public by default when bound beyond loopback, with its admin listener on loopback", () => {
  const local = parseOptions(dashboardOptions, [], {});
  assert.deepEqual([local.public, local.adminPort], [false, undefined]);
  const wide = parseOptions(dashboardOptions, ["--host", "0.0.0.0"], {});
  assert.deepEqual([wide.public, wide.adminHost, wide.adminPort], [true, "127.0.0.1", 9465]);
  const told = parseOptions(dashboardOptions, [], {
    DASHBOARD_HOST: "::",
    DASHBOARD_PUBLIC: "false",
  });
  assert.deepEqual([told.public, told.adminPort], [false, undefined]);
  const asked = parseOptions(dashboardOptions, ["--public", "--admin-port", "0"], {});
  assert.deepEqual([asked.public, asked.adminPort], [true, 0]);
});

Deno.test("the launcher grants the dashboard's admin listener only when it serves one", async () => {
  const wide = await planLaunch(["dashboard.ts", "--host", "0.0.0.0"], {
    root: ROOT,
    probe: false,
  });
  const net = granted(wide.runArgs, "--allow-net");
  assert.ok(net.includes("0.0.0.0:8080") && net.includes("127.0.0.1:9465"), String(net));
  const local = await planLaunch(["dashboard.ts"], { root: ROOT, probe: false });
  assert.ok(!granted(local.runArgs, "--allow-net").includes("127.0.0.1:9465"));
});
