import { Server, ServerCredentials, status, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServiceService, type ProxyServiceServer } from "../../src/gen/realtime/v1/proxy.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { eventually } from "../helpers/until.js";

/** Answers are written loosely (unset message fields left out), as a backend in any language would. */
type Handler = (call: ServerUnaryCall<any, any>, cb: sendUnaryData<any>) => void;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** The same contract as the HTTP webhooks, served by a backend's gRPC ProxyService. */
describe("webhooks over gRPC (ProxyService)", () => {
  let server: Server;
  let hub: TestHub;
  const seen: Array<{ method: string; request: any }> = [];

  const record =
    (method: string, answer: (req: any) => object | "slow" | "fail"): Handler =>
    (call, cb) => {
      seen.push({ method, request: call.request });
      const out = answer(call.request);
      if (out === "slow") return void setTimeout(() => cb(null, {}), 2000);
      if (out === "fail") return cb({ code: status.INTERNAL, details: "boom" });
      cb(null, out);
    };

  beforeAll(async () => {
    const impl: Partial<Record<keyof ProxyServiceServer, Handler>> = {
      connectProxy: record("connect", (req) =>
        req.name === "slow" ? "slow" : { result: { user: "g1", expireAt: "0", info: json({ via: "grpc" }), data: json({ hi: 1 }), subscriptions: {}, meta: Buffer.from("m") } },
      ),
      subscribeProxy: record("subscribe", (req) =>
        req.channel === "no" ? { error: { code: 103, message: "denied by grpc", temporary: false } } : { result: { info: Buffer.alloc(0), expireAt: "0" } },
      ),
      rpcProxy: record("rpc", (req) => (req.method === "boom" ? "fail" : { result: { data: json({ echo: JSON.parse(req.data.toString()) }) } })),
      notifyDisconnect: record("disconnect", () => ({})),
    };
    server = new Server();
    server.addService(ProxyServiceService, impl as Record<string, Handler>);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const url = `grpc://127.0.0.1:${port}`;
    hub = await startTestHub({
      proxyConnectUrl: url,
      proxySubscribeUrl: url,
      proxyRpcUrl: url,
      proxyPublishUrl: url,
      proxyDisconnectUrl: url,
      proxyConnectTimeoutMs: 500,
    });
  });
  afterAll(async () => {
    await hub.stop();
    server.forceShutdown();
  });

  it("connects, subscribes and calls methods through the backend's ProxyService", async () => {
    const c = await TestWsClient.open(hub.wsUrl);
    const r = await c.call({ connect: { name: "web" } });
    expect(r.connect.data).toEqual({ hi: 1 });
    expect(seen.find((s) => s.method === "connect")!.request.context).toMatchObject({ transport: "websocket", node: hub.node.id });

    expect((await c.call({ subscribe: { channel: "no" } })).error).toEqual({ code: 103, message: "denied by grpc" });
    expect((await c.call({ subscribe: { channel: "yes" } })).error).toBeUndefined();
    const sub = seen.find((s) => s.method === "subscribe" && s.request.channel === "yes")!;
    expect(sub.request.context.user).toBe("g1");
    expect(sub.request.context.meta.toString()).toBe("m");

    expect((await c.call({ rpc: { method: "echo", data: { a: 1 } } })).rpc).toEqual({ data: { echo: { a: 1 } } });
    // A failing backend fails that call only, temporarily; an unimplemented method likewise.
    expect((await c.call({ rpc: { method: "boom", data: {} } })).error).toMatchObject({ code: 108, temporary: true });
    expect((await c.call({ publish: { channel: "yes", data: { x: 1 } } })).error).toMatchObject({ code: 108, temporary: true });
    c.close();
    await eventually(() => expect(seen.filter((s) => s.method === "disconnect")).toHaveLength(1));
    expect(seen.find((s) => s.method === "disconnect")!.request).toMatchObject({ channels: ["yes"], context: { user: "g1" } });
  });

  it("fails a connect the backend does not answer in time, within the timeout", async () => {
    const c = await TestWsClient.open(hub.wsUrl);
    const started = Date.now();
    const r = await c.call({ connect: { name: "slow" } });
    expect(r.error).toMatchObject({ code: 108, temporary: true });
    expect(r.error.message).toMatch(/no answer within 500 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
    c.close();
  });
});
