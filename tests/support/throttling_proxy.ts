// A stand-in in front of the local BigQuery's Storage Write API (gRPC) that
// passes every call through unchanged, counts them, and, while throttling,
// answers appends the way real BigQuery answers a project over its
// throughput quota: the AppendRows call ends with RESOURCE_EXHAUSTED (gRPC
// status 8). The local BigQuery cannot produce that answer itself.

import * as grpc from "@grpc/grpc-js";

const SERVICE = "/google.cloud.bigquery.storage.v1.BigQueryWrite/";
const UNARY = [
  "CreateWriteStream",
  "GetWriteStream",
  "FinalizeWriteStream",
  "BatchCommitWriteStreams",
  "FlushRows",
] as const;

/** Bytes in, bytes out: nothing is decoded on the way. */
const same = (bytes: Buffer) => bytes;

/** A running stand-in. */
export interface ThrottlingProxy {
  /** `127.0.0.1:port`, for `--storage-emulator-host`. */
  readonly address: string;
  /** Calls seen, by method name (`AppendRows` counts requests, not connections). */
  readonly calls: Map<string, number>;
  /** Append requests answered with RESOURCE_EXHAUSTED. */
  readonly throttled: number;
  /** Answers appends with RESOURCE_EXHAUSTED (true) or passes them through (false). */
  throttle(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a stand-in on a free loopback port in front of `upstream` (`host:port`). */
export async function startThrottlingProxy(upstream: string): Promise<ThrottlingProxy> {
  const client = new grpc.Client(upstream, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  const calls = new Map<string, number>();
  const count = (method: string) => calls.set(method, (calls.get(method) ?? 0) + 1);
  let throttling = false;
  let throttled = 0;
  const exhausted = () =>
    Object.assign(new Error("Exceeds quota: AppendRows throughput (stand-in)"), {
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: "Exceeds quota: AppendRows throughput (stand-in)",
    });

  const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of UNARY) {
    definition[method] = {
      path: SERVICE + method,
      requestStream: false,
      responseStream: false,
      requestSerialize: same,
      requestDeserialize: same,
      responseSerialize: same,
      responseDeserialize: same,
    };
    handlers[method] = (
      call: grpc.ServerUnaryCall<Buffer, Buffer>,
      callback: grpc.sendUnaryData<Buffer>,
    ) => {
      count(method);
      client.makeUnaryRequest(
        SERVICE + method,
        same,
        same,
        call.request,
        call.metadata,
        (error, response) => callback(error, response),
      );
    };
  }
  definition.AppendRows = {
    path: SERVICE + "AppendRows",
    requestStream: true,
    responseStream: true,
    requestSerialize: same,
    requestDeserialize: same,
    responseSerialize: same,
    responseDeserialize: same,
  };
  handlers.AppendRows = (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    const upstreamCall = client.makeBidiStreamRequest(
      SERVICE + "AppendRows",
      same,
      same,
      call.metadata,
    );
    let ended = false;
    const fail = (error: Partial<grpc.StatusObject>) => {
      if (ended) return;
      ended = true;
      upstreamCall.cancel();
      call.emit("error", error);
    };
    call.on("data", (request: Buffer) => {
      count("AppendRows");
      if (throttling) {
        throttled++;
        fail(exhausted());
        return;
      }
      upstreamCall.write(request);
    });
    call.on("end", () => upstreamCall.end());
    call.on("error", () => upstreamCall.cancel());
    call.on("cancelled", () => upstreamCall.cancel());
    upstreamCall.on("data", (response: Buffer) => {
      if (!ended) call.write(response);
    });
    upstreamCall.on("end", () => {
      if (ended) return;
      ended = true;
      call.end();
    });
    upstreamCall.on("error", (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) fail(error);
    });
  };
  server.addService(definition, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => error ? reject(error) : resolve(bound),
    )
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    get throttled() {
      return throttled;
    },
    throttle(on) {
      throttling = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          client.close();
          resolve();
        });
        setTimeout(() => {
          server.forceShutdown();
          client.close();
          resolve();
        }, 2_000);
      }),
  };
}
