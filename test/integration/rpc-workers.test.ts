import type { ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MemoryBus } from "../../src/broker/memory.js";
import type { HandleRpcRequest, HandleRpcResponse } from "../../src/gen/realtime/v1/hub.js";
import { grpcClient } from "../helpers/grpc-client.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";

type Answer = { data?: unknown; error?: { code: number; message: string; temporary: boolean } } | "silent";

/** A backend worker on a HandleRpc stream: answers each call with `answer(call)`. */
function attachWorker(hub: TestHub, methods: string[], answer: (call: HandleRpcResponse) => Answer) {
  const g = grpcClient(hub.grpcAddr);
  const stream: ClientDuplexStream<HandleRpcRequest, HandleRpcResponse> = g.client.handleRpc(g.md());
  const calls: HandleRpcResponse[] = [];
  let ended: ServiceError | null = null;
  stream.on("data", (call: HandleRpcResponse) => {
    calls.push(call);
    const a = answer(call);
    if (a === "silent") return;
    stream.write({
      answer: { id: call.id, data: Buffer.from(a.data === undefined ? "" : JSON.stringify(a.data)), error: a.error },
    });
  });
  stream.on("error", (err: ServiceError) => (ended = err));
  stream.write({ register: { methods } });
  return {
    calls,
    ended: () => ended,
    close: () => {
      stream.end();
      g.close();
    },
  };
}

async function client(hub: TestHub): Promise<TestWsClient> {
  return TestWsClient.connect(hub.wsUrl);
}

/** Browser rpc without a webhook: answered by a backend's HandleRpc stream, on this node or another. */
describe("broker-first rpc (HandleRpc)", () => {
  let hub: TestHub;
  const closers: Array<() => void> = [];
  beforeAll(async () => {
    hub = await startTestHub({ rpcTimeoutMs: 300 });
  });
  afterEach(() => closers.splice(0).forEach((c) => c()));
  afterAll(() => hub.stop());

  it("routes a browser's rpc to the worker serving its method, with who called; errors and timeouts come back clearly", async () => {
    const w = attachWorker(hub, ["calc:*"], (call) => {
      const args = JSON.parse(call.data.toString()) as { a: number; b: number };
      if (call.method === "calc:add") return { data: { sum: args.a + args.b } };
      if (call.method === "calc:div" && args.b === 0) return { error: { code: 4002, message: "division by zero", temporary: false } };
      return "silent";
    });
    closers.push(w.close);
    const c = await client(hub);
    closers.push(() => c.close());
    // Attached once its register is read: until then the method is unknown (104).
    const sum = await until(async () => (await c.call({ rpc: { method: "calc:add", data: { a: 2, b: 3 } } })).rpc);
    expect(sum).toEqual({ data: { sum: 5 } });
    expect(w.calls[w.calls.length - 1]!.info!.client).toBeTruthy();
    expect((await c.call({ rpc: { method: "calc:div", data: { a: 1, b: 0 } } })).error).toEqual({ code: 4002, message: "division by zero" });
    expect((await c.call({ rpc: { method: "other", data: {} } })).error).toMatchObject({ code: 104 });
    const slow = await c.call({ rpc: { method: "calc:slow", data: { a: 0, b: 0 } } });
    expect(slow.error).toMatchObject({ code: 108, temporary: true });
    expect(slow.error.message).toMatch(/within 300 ms/);
  });

  it("fails what a worker leaves unanswered when its stream ends, and then has nobody to ask (104)", async () => {
    const w = attachWorker(hub, ["job:*"], () => "silent");
    const c = await client(hub);
    closers.push(() => c.close());
    await until(() => hub.node.rpc.workers.serves("job:run"));
    const pending = c.call({ rpc: { method: "job:run", data: {} } });
    await until(() => w.calls.length === 1);
    w.close();
    expect((await pending).error).toMatchObject({ code: 108, temporary: true });
    await until(() => !hub.node.rpc.workers.serves("job:run"));
    expect((await c.call({ rpc: { method: "job:run", data: {} } })).error).toMatchObject({ code: 104 });
  });

  it.each<[string, HandleRpcRequest, RegExp]>([
    ["an answer before register", { answer: { id: "x", data: Buffer.alloc(0), error: undefined } }, /send register/],
    ["no methods", { register: { methods: [] } }, /name 1 to 100 methods/],
    ["too many methods", { register: { methods: Array.from({ length: 101 }, (_, i) => `m${i}`) } }, /name 1 to 100 methods/],
    ["an empty method", { register: { methods: ["ok", ""] } }, /1 to 256 characters/],
    ["a method too long", { register: { methods: ["x".repeat(257)] } }, /1 to 256 characters/],
  ])("refuses a stream with %s (INVALID_ARGUMENT), and the node serves on", async (_name, first, message) => {
    const g = grpcClient(hub.grpcAddr);
    const stream = g.client.handleRpc(g.md());
    const err = await new Promise<ServiceError>((resolve) => {
      stream.on("error", resolve);
      stream.write(first);
    });
    expect(err.code).toBe(3);
    expect(err.details).toMatch(message);
    g.close();
    expect(hub.node.rpc.workers.methods()).toEqual([]);
  });
});

describe("broker-first rpc across nodes", () => {
  const bus = new MemoryBus();
  let a: TestHub;
  let b: TestHub;
  beforeAll(async () => {
    a = await startTestHub({ nodeId: "rpc-a" }, { bus });
    b = await startTestHub({ nodeId: "rpc-b" }, { bus });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  it("answers a browser on node B from a worker attached to node A, through the broker, once", async () => {
    const w = attachWorker(a, ["greet"], (call) => ({ data: { hello: JSON.parse(call.data.toString()).name, by: "worker on a" } }));
    const c = await client(b);
    try {
      const r = await until(async () => (await c.call({ rpc: { method: "greet", data: { name: "Ada" } } })).rpc, { what: "node b to hear of the worker" });
      expect(r).toEqual({ data: { hello: "Ada", by: "worker on a" } });
      expect(w.calls).toHaveLength(1);
      expect(w.calls[0]!.info!.client).toBe(c.messages.find((m) => m.connect).connect.client);
    } finally {
      c.close();
      w.close();
    }
  });
});
