/**
 * The reverse proxy of `infra/proxy/livecharts.conf` run by the real nginx
 * (Debian's package, which `.ci/run` installs) on a loopback port: the file
 * as shipped, with only its three lines marked `test:` changed (upstream,
 * port, password file), inside a minimal main configuration of its own.
 *
 * @module
 */

import { freePort } from "../../bench/dashboard.ts";

const SITE = new URL("../../infra/proxy/livecharts.conf", import.meta.url);

/** Where Debian installs nginx (root's PATH has it; another user's may not). */
const CANDIDATES = ["nginx", "/usr/sbin/nginx"];

/** The nginx binary, or an error saying how to install it. */
export async function findNginx(): Promise<string> {
  for (const candidate of CANDIDATES) {
    try {
      const { success } = await new Deno.Command(candidate, {
        args: ["-v"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return candidate;
    } catch {
      // not there: try the next
    }
  }
  throw new Error(
    "Cannot run the proxy test as nginx is missing: install the Debian package 'nginx' (.ci/run does)",
  );
}

/**
 * `site` with each `test:` line's value replaced: throws when a line is not
 * found exactly once, so the test cannot drift from the shipped file.
 */
export function siteFor(
  site: string,
  values: { upstream: string; port: number; passwords: string },
): string {
  const swaps: [RegExp, string][] = [
    [/^(\s*server )\S+;( # test:)/m, `$1${values.upstream};$2`],
    [/^(\s*listen )\S+;( # test:)/m, `$1127.0.0.1:${values.port};$2`],
    [/^(\s*auth_basic_user_file )\S+;( # test:)/m, `$1${values.passwords};$2`],
  ];
  let text = site;
  for (const [pattern, replacement] of swaps) {
    const global = new RegExp(pattern.source, "gm");
    const found = text.match(global)?.length ?? 0;
    if (found !== 1) {
      throw new Error(`Cannot adapt the proxy config: ${pattern} matched ${found} lines, not 1`);
    }
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** A running nginx. */
export interface Proxy {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** What nginx wrote to its error log so far. */
  errors(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts nginx with the shipped site in front of `upstream` (`host:port`),
 * one user `user:password`, and waits until it accepts connections.
 */
export async function startProxy(
  upstream: string,
  credentials: { user: string; password: string },
): Promise<Proxy> {
  const nginx = await findNginx();
  const dir = await Deno.makeTempDir({ prefix: "livecharts_proxy_" });
  // nginx's workers may run as another user: they read the password file.
  await Deno.chmod(dir, 0o755);
  const hash = await new Deno.Command("openssl", {
    args: ["passwd", "-apr1", "-stdin"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = hash.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${credentials.password}\n`));
  await writer.close();
  const hashed = await hash.output();
  if (!hashed.success) throw new Error("Cannot hash the proxy password with openssl");
  const passwords = `${dir}/htpasswd`;
  await Deno.writeTextFile(
    passwords,
    `${credentials.user}:${new TextDecoder().decode(hashed.stdout).trim()}\n`,
  );
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/site.conf`,
    siteFor(await Deno.readTextFile(SITE), { upstream, port, passwords }),
  );
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    [
      "worker_processes 1;",
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      "events { worker_connections 256; }",
      "http {",
      `  access_log ${dir}/access.log;`,
      `  client_body_temp_path ${dir}/body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      `  include ${dir}/site.conf;`,
      "}",
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(nginx, {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`, "-g", "daemon off;"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const done = child.status.then((status) => {
    exited = true;
    return status;
  });
  const errors = async () => {
    try {
      return await Deno.readTextFile(`${dir}/error.log`);
    } catch {
      return "";
    }
  };
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (exited || Date.now() > until) {
        if (!exited) child.kill("SIGKILL");
        await done;
        throw new Error(`nginx did not start:\n${await stderr}\n${await errors()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    errors,
    stop: async () => {
      if (!exited) child.kill("SIGTERM");
      await done;
      await stderr;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
