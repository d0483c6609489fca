/**
 * A Kafka metadata stand-in on loopback: answers ApiVersions and Metadata
 * (version 0) with a broker list of the test's choosing, to produce what the
 * real local broker cannot: an advertised host other than its own (as an
 * unauthenticated plaintext listener could be made to answer). Nothing else.
 *
 * @module
 */

/** A running stand-in. */
export interface MetadataStandIn {
  /** `127.0.0.1:<port>`. */
  address: string;
  close(): void;
}

function int16(value: number): number[] {
  return [(value >> 8) & 0xff, value & 0xff];
}

function int32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function text(value: string): number[] {
  const bytes = [...new TextEncoder().encode(value)];
  return [...int16(bytes.length), ...bytes];
}

/** The body of the answer to `apiKey` (18: ApiVersions v0-v2, 3: Metadata v0). */
function answer(apiKey: number, version: number, brokers: readonly string[]): number[] {
  if (apiKey === 18) {
    const body = [...int16(0), ...int32(2), ...int16(18), ...int16(0), ...int16(2)];
    body.push(...int16(3), ...int16(0), ...int16(0));
    return version >= 1 ? [...body, ...int32(0)] : body;
  }
  const body = [...int32(brokers.length)];
  brokers.forEach((broker, node) => {
    const colon = broker.lastIndexOf(":");
    body.push(
      ...int32(node + 1),
      ...text(broker.slice(0, colon)),
      ...int32(Number(broker.slice(colon + 1))),
    );
  });
  return [...body, ...int32(0)]; // no topics
}

async function serve(connection: Deno.Conn, brokers: readonly string[]): Promise<void> {
  let buffer = new Uint8Array(0);
  try {
    for await (const chunk of connection.readable) {
      const joined = new Uint8Array(buffer.length + chunk.length);
      joined.set(buffer);
      joined.set(chunk, buffer.length);
      buffer = joined;
      while (buffer.length >= 4) {
        const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
        const size = view.getInt32(0);
        if (buffer.length < 4 + size) break;
        const apiKey = view.getInt16(4);
        const version = view.getInt16(6);
        const correlation = view.getInt32(8);
        buffer = buffer.slice(4 + size);
        const body = [...int32(correlation), ...answer(apiKey, version, brokers)];
        await connection.write(new Uint8Array([...int32(body.length), ...body]));
      }
    }
  } catch {
    // the client went away
  }
}

/**
 * Starts a stand-in whose Metadata answer lists `advertised` (`host:port`);
 * `"self"` in the list stands for its own address.
 */
export function startMetadataStandIn(advertised: readonly string[]): MetadataStandIn {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${listener.addr.port}`;
  const brokers = advertised.map((broker) => broker === "self" ? address : broker);
  (async () => {
    try {
      for await (const connection of listener) serve(connection, brokers);
    } catch {
      // closed
    }
  })();
  return { address, close: () => listener.close() };
}
