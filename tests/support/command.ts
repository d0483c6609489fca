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

/** Runs `command args` in the repository root, without input, and waits for it. */
export async function runCommand(command: string, args: readonly string[]): Promise<CommandResult> {
  const output = await new Deno.Command(command, {
    args: [...args],
    cwd: ROOT,
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
