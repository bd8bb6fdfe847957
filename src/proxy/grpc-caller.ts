import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { CallFailure } from "./call-failure.js";
import type { CallKind, CallSpec, RequestOf, ResponseOf } from "./calls.js";

/** gRPC statuses that say the call never reached the backend's handler. */
const NOT_DELIVERED = new Set([status.UNAVAILABLE]);

/**
 * Calls a backend's ProxyService over gRPC: one channel per address (grpc-js multiplexes and
 * reconnects), a deadline per call. Never throws anything but CallFailure.
 */
export class GrpcCaller {
  private readonly clients = new Map<string, Client>();

  call<K extends CallKind>(address: string, tls: boolean, spec: CallSpec<K>, request: RequestOf<K>, timeoutMs: number): Promise<ResponseOf<K>> {
    const client = this.client(address, tls);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        spec.method.path,
        (v: RequestOf<K>) => spec.method.requestSerialize(v),
        (b: Buffer) => spec.method.responseDeserialize(b),
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, res?: ResponseOf<K>) => {
          if (err) return reject(failure(err, timeoutMs));
          if (res === undefined) return reject(new CallFailure("invalid", "empty answer"));
          resolve(res);
        },
      );
    });
  }

  private client(address: string, tls: boolean): Client {
    const key = `${tls ? "s" : ""}${address}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new Client(address, tls ? credentials.createSsl() : credentials.createInsecure());
      this.clients.set(key, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

function failure(err: ServiceError, timeoutMs: number): CallFailure {
  switch (err.code) {
    case status.DEADLINE_EXCEEDED:
      return new CallFailure("timeout", `no answer within ${timeoutMs} ms`, true, { cause: err });
    case status.UNAUTHENTICATED:
      return new CallFailure("unauthenticated", `the backend refused: ${err.details}`, true, { cause: err });
    case status.PERMISSION_DENIED:
      return new CallFailure("forbidden", `the backend refused: ${err.details}`, true, { cause: err });
    case status.INTERNAL:
      // grpc-js reports an answer it could not deserialize as INTERNAL.
      return new CallFailure("invalid", `the backend failed: ${err.details}`, true, { cause: err });
    default:
      return new CallFailure(
        NOT_DELIVERED.has(err.code) ? "unreachable" : "status",
        `the backend answered gRPC status ${status[err.code] ?? err.code}: ${err.details}`,
        !NOT_DELIVERED.has(err.code),
        { cause: err },
      );
  }
}
