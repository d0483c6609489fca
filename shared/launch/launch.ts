/**
 * The launcher of `deno task produce|consume|dashboard|dlq`: parses the
 * script's own option table (flags and environment, with the script's
 * parser), derives the narrowest grants from that configuration, checks
 * that the configured services answer, then runs the script with exactly
 * those grants.
 *
 *     deno run <launcher grants> shared/launch/launch.ts [deno flags] [--optional=FLAG,...] SCRIPT [ARGS]
 *
 * Deno flags before the script (`--no-prompt`, `--v8-flags=...`,
 * `--allow-read=web`) are passed on, merged with the computed grants.
 * `--optional=FLAG` names options whose address may not answer at start
 * (the dashboard serves without BigQuery). `--print-permissions` among the
 * script's arguments prints the `deno run` line instead of running it.
 *
 * The script's option table is read from `shared/tables/` (which imports
 * no library: the launcher runs no third-party code with its own grants).
 * Kafka's advertised brokers are asked by `kafka_probe.ts` in a process of
 * its own, granted only the configured brokers. `--plan` as the first
 * argument prints the planned run as JSON instead (`spawnTask` starts
 * scripts that way).
 *
 * @module
 */

import {
  envNames,
  formatOptionError,
  type Option,
  OptionError,
  parseOptions,
  readEnv,
} from "../cli/options.ts";
import { errorMessage } from "../errors.ts";
import { SCRIPT_TABLES } from "../tables/mod.ts";
import {
  type Endpoint,
  grantFlags,
  LIBRARY_ENV,
  optionNeeds,
  redactArgs,
  splitAdvertised,
  withResolved,
} from "./permissions.ts";

/** How long the launcher waits for Kafka's metadata and for a service to answer. */
export const PROBE_MS = 4_000;

/** What {@linkcode planLaunch} found and the command it would run. */
export interface LaunchPlan {
  /** `run`, the deno flags with the computed grants, and the script. */
  runArgs: string[];
  /** The script's own arguments (the launcher's removed). */
  args: string[];
  /** `args` with secrets (`--sasl-password`) as `***`, for printing. */
  shownArgs: string[];
  /** `--print-permissions` was given. */
  printOnly: boolean;
  /** Bad configuration, as the lines to print; a launch stops with exit code 2. */
  problems?: string;
  /** One clear line per configured address that did not answer; a launch stops. */
  unreachable: string[];
  /** What the probes learned, shown by `--print-permissions`. */
  notes: string[];
  /** Advertised brokers not granted (outside the brokers' domain and `--allow-advertised`). */
  warnings: string[];
}

/** Options of {@linkcode planLaunch}. */
export interface PlanOptions {
  /** Folder the script paths are relative to (where deno.json is). */
  root: URL;
  /** Variables set for the script on top of this process' environment. */
  env?: Record<string, string>;
  /** Ask Kafka for its advertised brokers and check the services answer (default true). */
  probe?: boolean;
}

/** The option table of `script` (a path relative to the root), from `shared/tables/`. */
export function scriptOptions(script: string): Readonly<Record<string, Option<unknown>>> {
  const table = SCRIPT_TABLES[script.replace(/^\.\//, "")];
  if (table === undefined) {
    throw new Error(
      `Cannot launch ${script}: it has no option table in shared/tables/mod.ts ` +
        `(known: ${Object.keys(SCRIPT_TABLES).join(", ")})`,
    );
  }
  return table;
}

/** Asks the brokers of `endpoint` for the addresses they advertise, in a process of its own. */
async function probeKafka(
  endpoint: Endpoint,
  values: Readonly<Record<string, unknown>>,
): Promise<{ advertised: string[] } | { unreachable: string } | { error: string }> {
  const security = securityOf(values);
  const env = LIBRARY_ENV.flatMap(({ when, names }) => when.test("KAFKA_") ? names : []);
  const read = security.sslCa === undefined ? [] : [`--allow-read=${security.sslCa}`];
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--no-prompt",
      `--allow-net=${(await withResolved(endpoint.addresses)).join(",")}`,
      ...read,
      `--allow-env=${env.join(",")}`,
      new URL("./kafka_probe.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      JSON.stringify({ ...security, brokers: endpoint.addresses, timeoutMs: PROBE_MS }),
    ),
  );
  await writer.close();
  const { stdout, stderr } = await child.output();
  const line = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
  try {
    const answer: unknown = JSON.parse(line);
    if (typeof answer === "object" && answer !== null) {
      if ("advertised" in answer && Array.isArray(answer.advertised)) {
        return { advertised: answer.advertised.map(String) };
      }
      if ("unreachable" in answer) return { unreachable: String(answer.unreachable) };
      if ("error" in answer) return { error: String(answer.error) };
    }
  } catch {
    // reported below
  }
  const text = new TextDecoder().decode(stderr).trim().split("\n").at(-1) ?? "";
  return { error: `the probe ended without an answer${text ? `: ${text}` : ""}` };
}

/** Why `address` (`host:port`) does not accept a TCP connection; undefined when it does. */
async function unanswered(address: string, timeoutMs: number): Promise<string | undefined> {
  const colon = address.lastIndexOf(":");
  const hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(colon + 1));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname, port });
  try {
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const result = await Promise.race([connecting, timeout]);
    if (result === "timeout") {
      connecting.then((connection) => connection.close(), () => {});
      return `no answer within ${Math.round(timeoutMs / 1000)} s`;
    }
    result.close();
    return undefined;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
    if (error instanceof Deno.errors.NotCapable) return "not granted to the launcher";
    return errorMessage(error);
  } finally {
    clearTimeout(timer);
  }
}

/** Checks one endpoint; returns its advertised addresses (Kafka) and a line when it did not answer. */
async function probe(
  endpoint: Endpoint,
  values: Readonly<Record<string, unknown>>,
  optional: ReadonlySet<string>,
): Promise<{ advertised: string[]; unreachable?: string; note?: string }> {
  if (endpoint.kind === "kafka") {
    const answer = await probeKafka(endpoint, values);
    // Unreachable stops the launch; anything else (a refused password, an
    // unreadable CA file) the script reports in its own words.
    if ("unreachable" in answer) return { advertised: [], unreachable: answer.unreachable };
    if ("error" in answer) {
      return { advertised: [], note: `Kafka's advertised brokers unknown: ${answer.error}` };
    }
    return {
      advertised: answer.advertised,
      note: `Kafka at ${endpoint.addresses.join(",")} advertises ${answer.advertised.join(",")}`,
    };
  }
  if (endpoint.kind === "cloud") return { advertised: [] };
  const reasons = [];
  for (const address of endpoint.addresses) {
    const reason = await unanswered(address, PROBE_MS);
    if (reason === undefined) return { advertised: [] };
    reasons.push(reason);
  }
  const line = `Cannot reach ${endpoint.addresses.join(",")} (${endpoint.label}): ` +
    `${[...new Set(reasons)].join(", ")}. Check that the service runs ` +
    `('deno task status' shows the local ones) and its address`;
  return optional.has(endpoint.flag) ? { advertised: [], note: line } : {
    advertised: [],
    unreachable: line,
  };
}

/** The Kafka security settings among a script's parsed options. */
function securityOf(values: Readonly<Record<string, unknown>>) {
  const text = (value: unknown) => typeof value === "string" ? value : undefined;
  const flag = (value: unknown) => typeof value === "boolean" ? value : undefined;
  return {
    saslMechanism: text(values.saslMechanism),
    saslUsername: text(values.saslUsername),
    saslPassword: text(values.saslPassword),
    ssl: flag(values.ssl),
    sslCa: text(values.sslCa),
    sslRejectUnauthorized: flag(values.sslRejectUnauthorized),
  };
}

/**
 * Plans the launch of `words` (`[deno flags] [--optional=FLAG,...] SCRIPT
 * [ARGS]`): parses the script's options from its arguments and the
 * environment, and computes the grants they need.
 */
export async function planLaunch(
  words: readonly string[],
  options: PlanOptions,
): Promise<LaunchPlan> {
  const at = words.findIndex((word) => !word.startsWith("-"));
  if (at === -1) throw new Error("Cannot launch: no script given");
  const optional = new Set<string>();
  const flags: string[] = [];
  for (const word of words.slice(0, at)) {
    if (word.startsWith("--optional=")) {
      for (const flag of word.slice("--optional=".length).split(",")) optional.add(flag);
    } else flags.push(word);
  }
  const script = words[at]!;
  const given = words.slice(at + 1);
  const args = given.filter((arg) => arg !== "--print-permissions");
  const printOnly = args.length < given.length;
  const table = scriptOptions(script);
  const env = { ...readEnv(envNames(table)), ...options.env };
  const plan: LaunchPlan = {
    runArgs: [],
    args,
    shownArgs: redactArgs(table, args),
    printOnly,
    unreachable: [],
    notes: [],
    warnings: [],
  };

  // With --help or bad options the script only prints: it needs its
  // variables, nothing else.
  let values: Record<string, unknown> | undefined;
  if (!args.includes("--help") && !args.includes("-h")) {
    try {
      values = parseOptions(table, args, env);
    } catch (error) {
      if (!(error instanceof OptionError)) throw error;
      plan.problems = formatOptionError(error);
    }
  }
  const needs = values === undefined
    ? { ...optionNeeds(table, {}), connect: [], listen: [], read: [], write: [], sockets: [] }
    : optionNeeds(table, values);
  if (needs.problems.length > 0) {
    const lines = needs.problems.map((problem) => `error: ${problem}`);
    plan.problems = [plan.problems, ...lines].filter((line) => line !== undefined).join("\n");
  }
  const connect = needs.connect.flatMap((endpoint) => endpoint.addresses);
  if (values !== undefined && needs.problems.length === 0 && (options.probe ?? true)) {
    const found = await Promise.all(
      needs.connect.map(async (endpoint) => ({
        endpoint,
        ...await probe(endpoint, values, optional),
      })),
    );
    const allow = Array.isArray(values.allowAdvertised) ? values.allowAdvertised.map(String) : [];
    for (const { endpoint, advertised, unreachable, note } of found) {
      const configured = await withResolved(endpoint.addresses);
      const { allowed, refused } = splitAdvertised(advertised, { configured, allow });
      connect.push(...allowed);
      if (refused.length > 0) {
        plan.warnings.push(
          `Kafka at ${endpoint.addresses.join(",")} advertises ${refused.join(",")}, ` +
            `outside the configured brokers' domain: not granted (list the host in ` +
            `--allow-advertised, KAFKA_ALLOW_ADVERTISED, to grant it)`,
        );
      }
      if (unreachable !== undefined) plan.unreachable.push(unreachable);
      if (note !== undefined) plan.notes.push(note);
    }
  }
  const net = [
    ...await withResolved(connect),
    ...await withResolved(needs.listen),
    ...needs.sockets,
  ];
  plan.runArgs = [
    "run",
    ...grantFlags({ net, read: needs.read, write: needs.write, env: needs.env }, flags),
    script,
  ];
  return plan;
}

/** The command of `plan` as a shell line, one flag a line. */
export function formatCommand(plan: LaunchPlan): string {
  const quote = (word: string) =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
  const words = ["deno", ...plan.runArgs, ...plan.shownArgs].map(quote);
  const script = plan.runArgs.length; // index of the script among words (deno + run args - 1)
  const head = words.slice(0, 2).join(" ");
  const flags = words.slice(2, script);
  const tail = words.slice(script).join(" ");
  return [head, ...flags.map((flag) => `  ${flag}`), `  ${tail}`].join(" \\\n");
}

async function main(): Promise<number> {
  const root = new URL("../../", import.meta.url);
  // `--plan` first: print the run as JSON (for spawnTask), leaving a service
  // that does not answer or a bad option for the script to report.
  const planOnly = Deno.args[0] === "--plan";
  let plan: LaunchPlan;
  try {
    plan = await planLaunch(planOnly ? Deno.args.slice(1) : Deno.args, { root });
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    return 1;
  }
  if (planOnly) {
    console.log(JSON.stringify({ runArgs: plan.runArgs, args: plan.args }));
    return 0;
  }
  if (plan.problems !== undefined) {
    console.error(plan.problems);
    return 2;
  }
  if (plan.printOnly) {
    for (const line of [...plan.notes, ...plan.warnings, ...plan.unreachable]) {
      console.log(`# ${line}`);
    }
    if (plan.shownArgs.some((arg, at) => arg !== plan.args[at])) {
      console.log("# secrets shown as ***: pass them as variables (e.g. KAFKA_SASL_PASSWORD)");
    }
    console.log(formatCommand(plan));
    return 0;
  }
  for (const line of plan.warnings) console.error(`warning: ${line}`);
  if (plan.unreachable.length > 0) {
    for (const line of plan.unreachable) console.error(`error: ${line}`);
    return 1;
  }
  const child = new Deno.Command("deno", {
    args: [...plan.runArgs, ...plan.args],
    cwd: root,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // A terminal's Ctrl-C reaches both processes; a supervisor's SIGTERM only
  // this one. The script ignores a second signal arriving with the first.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      try {
        child.kill(signal);
      } catch {
        // already ended
      }
    });
  }
  return (await child.status).code;
}

if (import.meta.main) {
  main().then(Deno.exit, (error) => {
    console.error(`error: ${errorMessage(error)}`);
    Deno.exit(1);
  });
}
