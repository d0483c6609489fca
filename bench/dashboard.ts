/**
 * The dashboard as the benchmark runs it: `deno task dashboard`'s command
 * line and permissions, with the task's own port (8080) swapped for a free
 * one in both the grant and `--port`, so a dashboard someone already runs is
 * not disturbed. Reconciliation with BigQuery is off (`--reconcile-every 0`):
 * it only runs when the pipeline is quiet, and the benchmark never is.
 *
 * @module
 */

import { type Running, spawnTask, tail } from "./processes.ts";

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
export interface BenchDashboard {
  url: string;
  running: Running;
  /** `/healthz` body (an empty object when it does not answer). */
  health(): Promise<Record<string, unknown>>;
}

/** Topic, table, view and consumer group of a dashboard run. */
export interface DashboardNames {
  topic: string;
  table: string;
  view: string;
  group: string;
}

/** Starts the dashboard and waits until it serves `/healthz`. */
export async function startDashboard(names: DashboardNames): Promise<BenchDashboard> {
  const port = freePort();
  const running = await spawnTask("dashboard", [
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
    "--reconcile-every",
    "0",
  ], { permissions: (args) => withPort(args, port) });
  const url = `http://127.0.0.1:${port}`;
  const health = async (): Promise<Record<string, unknown>> => {
    try {
      const response = await fetch(`${url}/healthz`);
      const body: unknown = await response.json();
      return typeof body === "object" && body !== null ? { ...body } : {};
    } catch {
      return {};
    }
  };
  let exited = false;
  running.done.then(() => (exited = true));
  const until = Date.now() + 60_000;
  while (Object.keys(await health()).length === 0) {
    if (exited || Date.now() > until) {
      running.kill("SIGKILL");
      throw new Error(`The dashboard did not start:\n${tail(running.lines)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, running, health };
}

/** Messages the dashboard has read (`/healthz` → `kafka.read`), or 0. */
export function healthRead(health: Record<string, unknown>): number {
  const kafka = health.kafka;
  const read = typeof kafka === "object" && kafka !== null && "read" in kafka
    ? kafka.read
    : undefined;
  return typeof read === "number" ? read : 0;
}
