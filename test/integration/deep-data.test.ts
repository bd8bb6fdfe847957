import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { PublishStreamResponse } from "../../src/gen/realtime/v1/hub.js";
import { MAX_DATA_DEPTH } from "../../src/protocol/codec.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { grpcClient } from "../helpers/grpc-client.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * Defect of 2026-11-29 (hostile-input run): a publication whose JSON nests ~10,000 levels deep
 * was stored in history and could then not be encoded: live subscribers skipped it, clients
 * recovering from before it got error 100, stayed half-subscribed and received nothing more,
 * while publications queued for them without bound. What the hub accepts it must deliver.
 */
const nested = (depth: number) => Buffer.from("[".repeat(depth) + "]".repeat(depth));
const TOO_DEEP = nested(10_000);
const DEEP_OK = nested(MAX_DATA_DEPTH);

let hub: TestHub;
let g: ReturnType<typeof grpcClient>;
beforeAll(async () => {
  hub = await startTestHub();
  g = grpcClient(hub.grpcAddr);
});
afterAll(async () => {
  g?.close();
  await hub?.stop();
});

const grpcError = async (p: Promise<unknown>): Promise<ServiceError> => {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error("expected the call to fail");
};

function postApi(method: string, body: unknown): Promise<{ status: number; body: any }> {
  return fetch(`${hub.httpUrl}/api/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** Publishes through gRPC and checks that a recovering and a live client both get it and what follows. */
async function expectChannelHealthy(channel: string, before: { epoch: string; offset: string }) {
  const live = await TestWsClient.connect(hub.wsUrl);
  await live.call({ subscribe: { channel } });
  const r: any = await g.call("publish", { channel, data: Buffer.from('{"n":1}'), idempotencyKey: "", skipHistory: false, tags: {} });
  await live.waitFor((m) => m.push?.pub?.offset === r.offset);
  const late = await TestWsClient.connect(hub.wsUrl);
  const sub = await late.call({ subscribe: { channel, recover: true, epoch: before.epoch, offset: before.offset } });
  expect(sub.error).toBeUndefined();
  expect(sub.subscribe.recovered).toBe(true);
  await g.call("publish", { channel, data: Buffer.from('{"n":2}'), idempotencyKey: "", skipHistory: false, tags: {} });
  await late.waitFor((m) => m.push?.pub?.data?.n === 2);
  live.close();
  late.close();
}

describe("publication data the hub cannot deliver is refused on every way in", () => {
  it("a client publish (b64data) gets BAD_REQUEST and nothing is stored", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    const first = await c.call({ subscribe: { channel: "deep:client" } });
    const r = await c.call({ publish: { channel: "deep:client", b64data: TOO_DEEP.toString("base64") } });
    expect(r.error).toMatchObject({ code: 107, message: expect.stringMatching(/nest/) });
    const h = await c.call({ history: { channel: "deep:client", limit: 10 } });
    expect(h.history.publications ?? []).toHaveLength(0);
    c.close();
    await expectChannelHealthy("deep:client", first.subscribe);
  });

  it("a client publish with the data embedded as JSON gets BAD_REQUEST", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    // Sent raw: JSON.stringify of the command here would overflow too.
    c.sendRaw(`{"id":7,"publish":{"channel":"deep:embedded","data":${TOO_DEEP.toString()}}}`);
    const r = await c.waitFor((m) => m.id === 7);
    expect(r.error).toMatchObject({ code: 107 });
    expect(await c.call({ ping: {} })).toMatchObject({ ping: {} });
    c.close();
  });

  it("gRPC Publish gets INVALID_ARGUMENT", async () => {
    const e = await grpcError(g.call("publish", { channel: "deep:grpc", data: TOO_DEEP, idempotencyKey: "", skipHistory: false, tags: {} }));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/nest/);
    const h: any = await g.call("history", { channel: "deep:grpc", limit: 10, reverse: false });
    expect(h.publications).toHaveLength(0);
  });

  it("gRPC Broadcast answers the error per channel", async () => {
    const r: any = await g.call("broadcast", { channels: ["deep:b1", "deep:b2"], data: TOO_DEEP, idempotencyKey: "", skipHistory: false, tags: {} });
    expect(r.results.map((x: any) => x.error?.code)).toEqual([107, 107]);
  });

  it("gRPC PublishStream acks with the error and the stream goes on", async () => {
    const stream = g.client.publishStream(g.md());
    const acks: PublishStreamResponse[] = [];
    stream.on("data", (a: PublishStreamResponse) => acks.push(a));
    const ended = new Promise((r) => stream.on("end", r));
    const req = (id: number, data: Buffer) => ({ id: String(id), publish: { channel: "deep:stream", data, idempotencyKey: "", skipHistory: false, tags: {} } });
    stream.write(req(1, TOO_DEEP));
    stream.write(req(2, Buffer.from('{"ok":true}')));
    stream.end();
    await ended;
    expect(acks.map((a) => [a.id, a.error?.code ?? 0])).toEqual([["1", 107], ["2", 0]]);
  });

  it("the HTTP API answers 400 for embedded and b64 data alike", async () => {
    const b64 = await postApi("publish", { channel: "deep:http", b64data: TOO_DEEP.toString("base64") });
    expect(b64.status).toBe(400);
    expect(b64.body.error).toMatchObject({ code: 107, message: expect.stringMatching(/nest/) });
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = `{"channel":"deep:http","data":${TOO_DEEP.toString()}}`;
      const req = http.request(`${hub.httpUrl}/api/publish`, { method: "POST", headers: { "Content-Type": "application/json" } }, (r) => {
        let text = "";
        r.on("data", (c) => (text += c));
        r.on("end", () => resolve({ status: r.statusCode!, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe(107);
  });

  it(`data nested ${MAX_DATA_DEPTH} levels deep is accepted and delivered as JSON`, async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "deep:ok" } });
    const r = await c.call({ publish: { channel: "deep:ok", b64data: DEEP_OK.toString("base64") } });
    expect(r.error).toBeUndefined();
    const pub = await c.waitFor((m) => m.push?.pub);
    expect(JSON.stringify(pub.push.pub.data)).toBe(DEEP_OK.toString());
    c.close();
  });

  it("binary data that only looks deep (not JSON) is accepted and delivered as b64data", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "deep:binary" } });
    const data = Buffer.concat([Buffer.from("["), TOO_DEEP]); // unbalanced: not JSON
    const r: any = await g.call("publish", { channel: "deep:binary", data, idempotencyKey: "", skipHistory: false, tags: {} });
    expect(r.offset).toBe("1");
    const pub = await c.waitFor((m) => m.push?.pub);
    expect(Buffer.from(pub.push.pub.b64data, "base64").equals(data)).toBe(true);
    c.close();
  });
});

describe("a publication already in history that is too deep (stored by an older hub)", () => {
  it("is recovered as b64data; the client is subscribed and receives what follows, over WebSocket and SSE", async () => {
    const channel = "deep:stored";
    // Straight into the store, as an older version (or another node) could have left it.
    const pos = await hub.node.historyStore.append(
      channel,
      { data: TOO_DEEP, offset: "0", epoch: "", tags: {}, info: undefined, time: "1" },
      { size: 100, ttlSeconds: 300 },
    );
    const c = await TestWsClient.connect(hub.wsUrl);
    const sub = await c.call({ subscribe: { channel, recover: true, epoch: pos.epoch, offset: "0" } });
    expect(sub.error).toBeUndefined();
    expect(sub.subscribe.recovered).toBe(true);
    expect(Buffer.from(sub.subscribe.publications[0].b64data, "base64").equals(TOO_DEEP)).toBe(true);
    await g.call("publish", { channel, data: Buffer.from('{"after":1}'), idempotencyKey: "", skipHistory: false, tags: {} });
    await c.waitFor((m) => m.push?.pub?.data?.after === 1);

    const sse = await new Promise<string[]>((resolve, reject) => {
      const lines: string[] = [];
      const req = http.get(`${hub.httpUrl}/connection/sse?channel=${channel}&since=${channel}:${pos.epoch}:0`, (res) => {
        let buf = "";
        res.on("data", (chunk) => {
          buf += chunk.toString();
          for (let i; (i = buf.indexOf("\n\n")) >= 0; buf = buf.slice(i + 2)) lines.push(buf.slice(0, i));
          if (lines.some((l) => l.includes('"after":2'))) {
            req.destroy();
            resolve(lines);
          }
        });
      });
      req.on("error", reject);
      setTimeout(() => reject(new Error(`SSE: got ${JSON.stringify(lines).slice(0, 500)}`)), 5000).unref();
      // Once the stream is open and subscribed, a new publication must follow the recovered ones.
      setTimeout(() => void g.call("publish", { channel, data: Buffer.from('{"after":2}'), idempotencyKey: "", skipHistory: false, tags: {} }), 300);
    });
    expect(sse.some((l) => l.includes("b64data"))).toBe(true);
    c.close();
  });
});
