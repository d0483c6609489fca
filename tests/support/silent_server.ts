/**
 * A TCP server that accepts connections and never answers: a hung BigQuery,
 * for the tests of deadlines.
 *
 * @module
 */

/** A {@linkcode startSilentServer} server. */
export interface SilentServer {
  /** `127.0.0.1:<port>` (for gRPC clients). */
  address: string;
  /** `http://127.0.0.1:<port>` (for REST clients). */
  url: string;
  /** Stops listening and drops every connection it holds. */
  close(): void;
}

/** Starts a {@linkcode SilentServer} on a free local port. */
export function startSilentServer(): SilentServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  (async () => {
    for await (const connection of listener) connections.push(connection);
  })().catch(() => {});
  const address = `127.0.0.1:${listener.addr.port}`;
  return {
    address,
    url: `http://${address}`,
    close() {
      listener.close();
      for (const connection of connections) connection.close();
    },
  };
}
