/**
 * Starting the local services (Kafka and the BigQuery emulator) with
 * `infra/services.sh up`, for `deno task start`.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Runs `bash infra/services.sh up` in `root`. The services script shows its
 * own progress (downloads and installs on a cold machine, then each
 * service's wait) straight on this terminal. Returns false, after one line
 * saying where to look, when they did not start.
 */
export async function startServices(root: URL): Promise<boolean> {
  Deno.stderr.writeSync(
    encoder.encode(
      "Starting Kafka and the local BigQuery (the first time: downloads, a few minutes)\n",
    ),
  );
  const up = await new Deno.Command("bash", {
    args: ["infra/services.sh", "up"],
    cwd: root,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!up.success) {
    console.error(
      `error: the services did not start (exit code ${up.code}): the line starting with ` +
        `'services:' above says why and names the log; 'deno task status' shows what runs, ` +
        `'bash infra/services.sh logs' the last lines of each log`,
    );
  }
  return up.success;
}
