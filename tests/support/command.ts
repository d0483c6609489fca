/**
 * Runs a command in the repository root and collects what it printed: the
 * service scripts the tests start, stop and inspect.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** How a command ended and what it printed. */
export interface CommandResult {
  ok: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command args` in the repository root, without input, and waits for
 * it; `env` goes on top of this process's environment.
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  const output = await new Deno.Command(command, {
    args: [...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    ok: output.success,
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The module specifiers of `script`'s graph, as `deno info --json` reads it. */
export async function moduleGraph(script: string): Promise<string[]> {
  const { stdout } = await runCommand("deno", ["info", "--json", script]);
  const graph: unknown = JSON.parse(stdout);
  const modules = typeof graph === "object" && graph !== null && "modules" in graph &&
      Array.isArray(graph.modules)
    ? graph.modules
    : [];
  return modules.map((module: unknown) =>
    typeof module === "object" && module !== null && "specifier" in module
      ? String(module.specifier)
      : ""
  );
}
