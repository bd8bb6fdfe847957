import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { HubServiceClient } from "../../src/gen/realtime/v1/hub.js";

/** A generated HubService client, plus a promise form of its unary calls. */
export function grpcClient(addr: string, apiKey?: string) {
  const client = new HubServiceClient(addr, credentials.createInsecure());
  const md = () => {
    const m = new Metadata();
    if (apiKey) m.set("authorization", `apikey ${apiKey}`);
    return m;
  };
  function call<Req, Res>(method: string, req: Req): Promise<Res> {
    return new Promise((resolve, reject) =>
      (client as any)[method](req, md(), (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res))),
    );
  }
  return { client, call, md, close: () => client.close() };
}

/** A publish request with the defaults filled in. */
export const pubReq = (channel: string, data: unknown, extra: Record<string, unknown> = {}) => ({
  channel,
  data: Buffer.from(JSON.stringify(data)),
  idempotencyKey: "",
  skipHistory: false,
  tags: {},
  ...extra,
});
