import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import type { ServerApi } from "../api/server-api.js";
import { MAX_PUBLISH_BYTES, type Config } from "../config.js";
import { ListenError } from "../errors.js";
import type { HubNode } from "../node.js";
import type { TlsFiles } from "../transport/tls-files.js";
import { clientCertificateInterceptor } from "./auth.js";
import { createHubService, hubServiceDefinition } from "./hub-service.js";
import { tlsServerCredentials } from "./tls-credentials.js";

const SERVICE = "realtime.v1.HubService";
const HEALTH_SERVICE = "grpc.health.v1.Health";

/**
 * Where `npm run generate` (buf build) wrote the descriptors of each package reflection
 * describes, found from src/grpc/ (tests, vitest) and from dist/src/grpc/ (built; tsc does not
 * copy them to dist). The health service's come from grpc-health-check's own proto.
 */
const DESCRIPTOR_SETS: Record<string, string[]> = Object.fromEntries(
  ["realtime/v1", "grpc/health/v1"].map((dir) => [
    dir.replaceAll("/", "."),
    [`../gen/${dir}/descriptor-set.binpb`, `../../../src/gen/${dir}/descriptor-set.binpb`].map((rel) =>
      fileURLToPath(new URL(rel, import.meta.url)),
    ),
  ]),
);

/**
 * The package definition server reflection answers from: the exact descriptors `buf build`
 * wrote, one FileDescriptorProto per .proto file. Not @grpc/proto-loader's: it merges every
 * file of a package into one synthetic file, and `buf curl` (and grpcurl) then fail with
 * `failed to find service named "realtime.v1.HubService"` (checked with proto-loader 0.8; the
 * same for grpc.health.v1, though it is one file).
 * @grpc/reflection only reads `fileDescriptorProtos` from the definition it is given.
 * Returns null (reflection off, with a warning) when a file is missing.
 */
function reflectionPackage(log: Logger): PackageDefinition | null {
  const def: Record<string, { format: string; fileDescriptorProtos: Buffer[] }> = {};
  for (const [pkg, candidates] of Object.entries(DESCRIPTOR_SETS)) {
    const path = candidates.find((p) => existsSync(p));
    if (!path) {
      log.warn({ looked: candidates }, "gRPC reflection off: a descriptor-set.binpb is missing (run npm run generate)");
      return null;
    }
    // FileDescriptorSet { repeated FileDescriptorProto file = 1; }: keep each file's bytes as is.
    const files: Buffer[] = [];
    const r = new BinaryReader(readFileSync(path));
    while (r.pos < r.len) {
      const [field, wireType] = r.tag();
      if (field === 1) files.push(Buffer.from(r.bytes()));
      else r.skip(wireType);
    }
    def[pkg] = { format: "Protocol Buffer 3 FileDescriptorProto", fileDescriptorProtos: files };
  }
  return def as unknown as PackageDefinition;
}

/**
 * The gRPC server API on config.grpcAddr (plaintext, or TLS with `tls`): HubService (API key
 * or client certificate checked per call when configured), server reflection (so `grpcurl
 * list` and `buf curl` work without proto files) and the standard grpc.health.v1 service.
 * Health and reflection need no key.
 */
export async function startGrpcServer(deps: {
  node: HubNode;
  api: ServerApi;
  config: Config;
  log: Logger;
  /** Certificate files (and the client CA, for mTLS): serve TLS; null: plaintext. */
  tls: TlsFiles | null;
}): Promise<{ port: number; reloadTls(): boolean; close(): Promise<void> }> {
  const { config, log } = deps;
  const tls = deps.tls ? tlsServerCredentials(deps.tls) : null;
  const server = new Server({
    ...(deps.tls?.keys.ca ? { interceptors: [clientCertificateInterceptor] } : {}),
    // Bad input is answered by grpc-js itself: oversize messages get RESOURCE_EXHAUSTED,
    // undecodable ones INTERNAL, before our handlers run.
    "grpc.max_receive_message_length": MAX_PUBLISH_BYTES,
    // Ping idle connections so a backend that vanished without a FIN (its Subscribe stream
    // holding node subscriptions) is noticed within about a minute and a half.
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
  });
  const hub = createHubService(deps.api, {
    apiKey: config.apiKey,
    log,
    subscribeBacklogMaxBytes: config.subscribeBacklogMaxBytes,
    subscribeBacklogMaxEvents: config.subscribeBacklogMaxEvents,
  });
  server.addService(hubServiceDefinition, hub.service);

  const reflection = reflectionPackage(log);
  // Only what this server serves: proxy.proto's ProxyService is implemented by app backends.
  if (reflection) new ReflectionService(reflection, { services: [SERVICE, HEALTH_SERVICE] }).addToServer(server);

  const health = new HealthImplementation({ "": "SERVING", [SERVICE]: "SERVING" });
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(config.grpcAddr, tls?.credentials ?? ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new ListenError(`grpcAddr ${config.grpcAddr}: ${err.message}`, { cause: err })) : resolve(p),
    ),
  );
  log.info(
    { addr: config.grpcAddr.replace(/:\d+$/, `:${port}`), reflection: reflection !== null, tls: tls !== null, clientCa: Boolean(deps.tls?.keys.ca) },
    "gRPC server listening",
  );

  let closing: Promise<void> | undefined;
  return {
    port,
    /**
     * Serves new connections with the certificate and CA files as they are now (open
     * connections keep theirs); false without TLS. Throws a ConfigError, keeping the previous
     * ones, when a file is unreadable or wrong.
     */
    reloadTls: () => {
      if (!tls) return false;
      tls.reload();
      return true;
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        // Health watchers learn first, so load balancers stop sending before we refuse.
        health.setStatus("", "NOT_SERVING");
        health.setStatus(SERVICE, "NOT_SERVING");
        hub.endStreams();
        // In-flight calls get the shutdown window to finish, then the rest are cut: a client
        // that never reads (or a health watcher that never hangs up) must not hold us forever.
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, config.shutdownTimeoutSeconds * 1000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      })),
  };
}
