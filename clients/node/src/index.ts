// The SAGE Mesh client for Node: the generated service clients (ts-proto + @grpc/grpc-js)
// plus the few helpers every caller needs (one channel for all services, bearer tokens,
// promise-returning unary calls, packed float32 vectors).
import {
  type CallOptions,
  type ChannelCredentials,
  type ClientUnaryCall,
  credentials,
  type Interceptor,
  InterceptingCall,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";

import { DiagnosticsServiceClient } from "./gen/sage/common/v1/common";
import { JobServiceClient } from "./gen/sage/kernel/v1/kernel";
import { KVServiceClient } from "./gen/sage/kv/v1/kv";
import { LLMServiceClient } from "./gen/sage/llm/v1/llm";
import { MemoryServiceClient } from "./gen/sage/memory/v1/memory";
import { VDBServiceClient } from "./gen/sage/vdb/v1/vdb";

export * as common from "./gen/sage/common/v1/common";
export * as kernel from "./gen/sage/kernel/v1/kernel";
export * as kv from "./gen/sage/kv/v1/kv";
export * as llm from "./gen/sage/llm/v1/llm";
export * as memory from "./gen/sage/memory/v1/memory";
export * as vdb from "./gen/sage/vdb/v1/vdb";

export interface ConnectOptions {
  /** Sent as `authorization: Bearer <token>` on every call; defaults to the SAGE_TOKEN environment
   * variable (`export SAGE_TOKEN=$(sage auth token)`), as the Python SDK does. */
  token?: string;
  /** Channel credentials; plaintext by default, as the mesh serves inside a trusted network. */
  credentials?: ChannelCredentials;
}

/** One typed client per SAGE Mesh service, all on the given address (an instance or Envoy). */
export interface SageClients {
  kv: KVServiceClient;
  vdb: VDBServiceClient;
  llm: LLMServiceClient;
  memory: MemoryServiceClient;
  jobs: JobServiceClient;
  diagnostics: DiagnosticsServiceClient;
  /** Closes every channel. */
  close(): void;
}

function bearer(token: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

// host:port, [ipv6]:port, or a gRPC target with a scheme (dns:///host:port, unix:/path).
const TARGET = /^((\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d+|[a-z][a-z0-9+.-]*:\S+)$/;

/** Connects to `address` ("host:port", an instance or Envoy). */
export function connect(address: string, options: ConnectOptions = {}): SageClients {
  if (!TARGET.test(address)) {
    throw new Error(`address must be "host:port" (or a gRPC target such as dns:///host:port), got ${JSON.stringify(address)}`);
  }
  const creds = options.credentials ?? credentials.createInsecure();
  const token = options.token ?? process.env.SAGE_TOKEN;
  const clientOptions = token ? { interceptors: [bearer(token)] } : {};
  const clients = {
    kv: new KVServiceClient(address, creds, clientOptions),
    vdb: new VDBServiceClient(address, creds, clientOptions),
    llm: new LLMServiceClient(address, creds, clientOptions),
    memory: new MemoryServiceClient(address, creds, clientOptions),
    jobs: new JobServiceClient(address, creds, clientOptions),
    diagnostics: new DiagnosticsServiceClient(address, creds, clientOptions),
  };
  return {
    ...clients,
    close() {
      for (const client of Object.values(clients)) client.close();
    },
  };
}

// A generated unary method; its last overload takes (request, metadata, options, callback),
// which is the one TypeScript infers from.
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

type RequestOf<M> = M extends UnaryMethod<infer Req, unknown> ? Req : never;
type ResponseOf<M> = M extends UnaryMethod<never, infer Res> ? Res : never;
type UnaryName<C> = {
  [K in keyof C]: C[K] extends UnaryMethod<never, unknown> ? K : never;
}[keyof C];

/** Calls a unary RPC and returns a promise: `await unary(clients.kv, "put", {...})`.
 * Rejects with the grpc-js ServiceError (`.code`, `.details`, `.metadata`). */
export function unary<C, K extends UnaryName<C>>(
  client: C,
  method: K,
  request: RequestOf<C[K]>,
  options: Partial<CallOptions> = {},
): Promise<ResponseOf<C[K]>> {
  const fn = client[method] as unknown as UnaryMethod<RequestOf<C[K]>, ResponseOf<C[K]>>;
  return new Promise((resolve, reject) => {
    fn.call(client, request, new Metadata(), options, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** Packs equal-length rows into the wire format of vectors: little-endian float32, row-major. */
export function packFloat32(rows: readonly (readonly number[])[]): Buffer {
  const dimension = rows.length ? rows[0].length : 0;
  const out = Buffer.alloc(rows.length * dimension * 4);
  rows.forEach((row, i) => {
    if (row.length !== dimension) {
      throw new Error(`row ${i} has ${row.length} values; every row must have ${dimension}`);
    }
    row.forEach((value, j) => out.writeFloatLE(value, (i * dimension + j) * 4));
  });
  return out;
}

/** Unpacks little-endian float32 bytes into rows of `dimension` values. */
export function unpackFloat32(bytes: Uint8Array, dimension: number): number[][] {
  if (dimension <= 0 || bytes.length % (dimension * 4) !== 0) {
    throw new Error(`${bytes.length} bytes is not a whole number of ${dimension}-dimensional float32 rows`);
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const rows: number[][] = [];
  for (let offset = 0; offset < view.length; offset += dimension * 4) {
    rows.push(Array.from({ length: dimension }, (_, j) => view.readFloatLE(offset + j * 4)));
  }
  return rows;
}
