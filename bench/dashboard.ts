/**
 * The dashboard as the benchmark and the integration tests run it:
 * `deno task dashboard`'s command line and permissions, with the task's own
 * port (8080) swapped for a free one in both the grant and `--port`, so a
 * dashboard someone already runs is not disturbed. The benchmark turns
 * reconciliation with BigQuery off (`--reconcile-every 0`): it only runs when
 * the pipeline is quiet, and the benchmark never is.
 *
 * @module
 */

import { type Child, type ChildExit, tail } from "../shared/launch/mod.ts";
import { spawnTask, withEmulator } from "./processes.ts";

/** A port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * The task's arguments with `127.0.0.1:8080` in `--allow-net` replaced by
 * `127.0.0.1:<port>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withPort } from "./dashboard.ts";
 * assert.deepEqual(
 *   withPort(["run", "--allow-net=127.0.0.1:8080,127.0.0.1:9092", "dashboard.ts"], 4321),
 *   ["run", "--allow-net=127.0.0.1:4321,127.0.0.1:9092", "dashboard.ts"],
 * );
 * ```
 */
export function withPort(args: readonly string[], port: number): string[] {
  return args.map((arg) =>
    arg.startsWith("--allow-net=")
      ? `--allow-net=${
        arg.slice("--allow-net=".length).split(",").map((host) =>
          host === "127.0.0.1:8080" ? `127.0.0.1:${port}` : host
        ).join(",")
      }`
      : arg
  );
}

/** A running dashboard. */
export interface Dashboard {
  /** Its address, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  child: Child;
  /** `/healthz` body (an empty object when it does not answer). */
  health(): Promise<Record<string, unknown>>;
  /** Sends SIGTERM (SIGKILL 10 s later) and waits for the exit. */
  stop(): Promise<ChildExit>;
}

/** Topic, table, view and consumer group of a dashboard run. */
export interface DashboardNames {
  topic: string;
  table: string;
  view: string;
  group: string;
}

/** Options of {@linkcode startDashboard}. */
export interface DashboardOptions {
  /** More flags for dashboard.ts, e.g. `["--reconcile-every", "0"]`. */
  args?: string[];
  /**
   * Wait until its numbers are complete (`live`, the default: BigQuery's
   * history loaded and Kafka read to its end), or only until it serves
   * `/healthz` (`serving`).
   */
  until?: "serving" | "live";
  /** Another BigQuery endpoint (`http://host:port`) for this dashboard only, e.g. a stand-in. */
  emulator?: string;
  /** Longest wait for `until` (default 60 s). */
  timeoutMs?: number;
  /** How often `/healthz` is asked while waiting (default 200 ms). */
  pollMs?: number;
  /** Called with the process as soon as it is spawned (e.g. to sample its memory). */
  onSpawn?: (child: Child) => void;
}

/** Starts the dashboard for `names` and waits until it is live (or serving). */
export async function startDashboard(
  names: DashboardNames,
  options: DashboardOptions = {},
): Promise<Dashboard> {
  const port = freePort();
  const child = await spawnTask("dashboard", [
    "--port",
    String(port),
    "--topic",
    names.topic,
    "--table",
    names.table,
    "--view",
    names.view,
    "--group",
    names.group,
    ...options.emulator === undefined ? [] : ["--emulator-host", options.emulator],
    ...options.args ?? [],
  ], {
    permissions: (args) => {
      const granted = withPort(args, port);
      return options.emulator === undefined
        ? granted
        : withEmulator(granted, new URL(options.emulator).host);
    },
  });
  options.onSpawn?.(child);
  const url = `http://127.0.0.1:${port}/`;
  const health = async (): Promise<Record<string, unknown>> => {
    try {
      // A dashboard that stops answering must not hold the bench: each ask gives up after 5 s.
      const response = await fetch(new URL("/healthz", url), {
        signal: AbortSignal.timeout(5_000),
      });
      const body: unknown = await response.json();
      return typeof body === "object" && body !== null ? { ...body } : {};
    } catch {
      return {};
    }
  };
  const ready = options.until === "serving"
    ? (body: Record<string, unknown>) => Object.keys(body).length > 0
    : (body: Record<string, unknown>) => body.state === "live";
  let exited = false;
  child.done.then(() => (exited = true));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const until = Date.now() + timeoutMs;
  while (!ready(await health())) {
    if (exited || Date.now() > until) {
      child.kill("SIGKILL");
      await child.done;
      throw new Error(
        `The dashboard ${exited ? "exited" : `did not start within ${timeoutMs / 1000} s`}:\n${
          tail(child.lines, 40)
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
  }
  return { url, child, health, stop: () => child.stop() };
}

/**
 * Plays the dashboard holds (`/healthz` → `counter`): those read from Kafka
 * and counted, plus those BigQuery's history brought, or 0. A dashboard
 * whose `--group` has no commits is anchored on what the table holds when
 * it starts, so a consumer storing the same topic meanwhile moves part of
 * it from Kafka's side to BigQuery's: what was read from Kafka alone can
 * stay short of the topic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthCounted } from "./dashboard.ts";
 * assert.equal(healthCounted({ counter: { counted: 996_000, seeded: 4_000 } }), 1_000_000);
 * assert.equal(healthCounted({}), 0);
 * ```
 */
export function healthCounted(health: Record<string, unknown>): number {
  const counter = health.counter;
  if (typeof counter !== "object" || counter === null) return 0;
  const counted = "counted" in counter && typeof counter.counted === "number" ? counter.counted : 0;
  const seeded = "seeded" in counter && typeof counter.seeded === "number" ? counter.seeded : 0;
  return counted + seeded;
}

/** The all-time plays of every artist the dashboard holds (`/api/artists`, 1,000 a page). */
export async function allTimePlays(dashboard: Dashboard): Promise<number> {
  let counted = 0;
  for (let offset = 0;; offset += 1_000) {
    const response = await fetch(
      new URL(`/api/artists?limit=1000&offset=${offset}`, dashboard.url),
    );
    const body: unknown = await response.json();
    const artists = typeof body === "object" && body !== null && "artists" in body &&
        Array.isArray(body.artists)
      ? body.artists
      : [];
    for (const entry of artists) {
      if (typeof entry === "object" && entry !== null && typeof entry.plays === "number") {
        counted += entry.plays;
      }
    }
    if (artists.length < 1_000) return counted;
  }
}
