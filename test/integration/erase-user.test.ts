import { afterEach, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { signToken } from "../../src/auth/jwt.js";
import { MemoryBus } from "../../src/broker/memory.js";
import { ERASE_USER_TIMEOUT_MS } from "../../src/erase-user.js";
import type { EraseUserResponse } from "../../src/gen/realtime/v1/hub.js";
import { DisconnectCode } from "../../src/gen/realtime/v1/types.js";
import { MemoryHistoryStore } from "../../src/history/memory.js";
import type { HubNode } from "../../src/node.js";
import { MemoryPresenceStore } from "../../src/presence/memory.js";
import { grpcClient } from "../helpers/grpc-client.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { createTestNode, createTestSession } from "../helpers/node.js";
import { eventually, until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { erasureContract } from "./erase-user-contract.js";

erasureContract("memory", async () => ({ history: new MemoryHistoryStore(), presence: new MemoryPresenceStore() }));

const SECRET = "erase-user-test-secret-of-32-bytes!";

describe("EraseUser across a cluster of nodes with memory stores", () => {
  const nodes: HubNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.shutdown();
  });

  /** Nodes on one bus that have heard each other (each keeps its own memory stores). */
  async function cluster(ids: string[]) {
    const bus = new MemoryBus();
    const ns: HubNode[] = [];
    for (const id of ids) ns.push(await createTestNode({ nodeId: id }, bus));
    nodes.push(...ns);
    for (const n of ns) (n as any).cluster.announce();
    await eventually(() => {
      for (const n of ns) expect(n.clusterInfo().map((i) => i.id)).toEqual([...ids].sort());
    });
    return ns;
  }

  /** A connected client of `user` on `node`, subscribed to `channel`, that published `text` there. */
  async function client(node: HubNode, user: string, channel: string, text: string) {
    const t = createTestSession(node, SECRET);
    t.send({ id: 1, connect: { token: await signToken(SECRET, { sub: user }) } });
    await until(() => t.transport.frames.some((f) => f.id === 1));
    t.send({ id: 2, subscribe: { channel } });
    await until(() => t.transport.frames.some((f) => f.id === 2));
    t.send({ id: 3, publish: { channel, data: { text } } });
    await until(() => t.transport.frames.some((f) => f.id === 3));
    for (const id of [1, 2, 3]) expect(t.transport.reply(id).error).toBeUndefined();
    return t;
  }

  const stores = (r: EraseUserResponse) =>
    r.stores.map((s) => `${s.node}/${s.kind}/${s.store}: ${s.removed} ${JSON.stringify(s.channels)}`).sort();

  it("erases the memory stores of every node, disconnects the user everywhere, and says what each node did", async () => {
    const [a, b] = (await cluster(["a", "b"])) as [HubNode, HubNode];
    const ua = await client(a, "u", "chat:1", "from a");
    const ub = await client(b, "u", "chat:1", "from b");
    const vb = await client(b, "v", "chat:1", "from v");
    await client(b, "u", "chat:2", "again from b");

    // First keep the connections: exact counts of what the stores held.
    const kept = await a.eraseUser({ user: "u", disconnect: false });
    expect(stores(kept)).toEqual([
      'a/history/memory: 1 {"chat:1":1}',
      'a/presence/memory: 1 {"chat:1":1}',
      'b/history/memory: 2 {"chat:1":1,"chat:2":1}',
      'b/presence/memory: 2 {"chat:1":1,"chat:2":1}',
    ]);
    expect(kept).toMatchObject({ publicationsRemoved: 3, presenceRemoved: 3, disconnected: 0, missingNodes: [] });
    expect(kept.nodes.map((n) => [n.node, n.disconnected, n.error])).toEqual([["a", 0, undefined], ["b", 0, undefined]]);
    expect(ua.transport.closedWith).toBeNull();
    // What is left is everyone else's; offsets did not move.
    const hb = await b.history("chat:1", { limit: 10 });
    expect(hb.publications.map((p) => [p.offset, p.info?.user])).toEqual([["2", "v"]]);
    expect(Object.values(await b.presence("chat:1")).map((i) => i.user)).toEqual(["v"]);
    expect((await a.history("chat:1", { limit: 10 })).publications).toEqual([]);

    // By default the user's connections close first, on every node, without reconnecting.
    const r = await b.eraseUser({ user: "u" });
    expect(r.disconnected).toBe(3);
    expect(r.nodes.map((n) => [n.node, n.disconnected])).toEqual([["b", 2], ["a", 1]]);
    expect(r.missingNodes).toEqual([]);
    for (const t of [ua, ub]) expect(t.transport.closedWith?.code).toBe(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT);
    expect(vb.transport.closedWith).toBeNull();
    expect(a.sessions.ofUser("u")).toEqual([]);
    expect(b.sessions.ofUser("u")).toEqual([]);
    await eventually(async () => expect(Object.values(await b.presence("chat:2"))).toEqual([]));
  });

  it("names a node that does not answer within the deadline, and erases the others", async () => {
    const [a, b, c] = (await cluster(["a", "b", "c"])) as [HubNode, HubNode, HubNode];
    await client(a, "u", "chat:1", "a");
    await client(b, "u", "chat:1", "b");
    await c.shutdown(); // it announced itself: a still counts it among the cluster
    const started = Date.now();
    const r = await a.eraseUser({ user: "u", disconnect: false });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(ERASE_USER_TIMEOUT_MS - 5);
    expect(took).toBeLessThan(ERASE_USER_TIMEOUT_MS + 1000);
    expect(r.missingNodes).toEqual(["c"]);
    expect(r.nodes.map((n) => n.node)).toEqual(["a", "b"]);
    expect(r.publicationsRemoved).toBe(2);
    expect((await b.history("chat:1", { limit: 10 })).publications).toEqual([]);
  }, 15_000);

  it("a node alone answers at once, without a broker round trip", async () => {
    const n = await createTestNode({ nodeId: "alone" });
    nodes.push(n);
    const started = Date.now();
    const r = await n.eraseUser({ user: "nobody" });
    expect(Date.now() - started).toBeLessThan(500);
    expect(r).toMatchObject({ publicationsRemoved: 0, presenceRemoved: 0, disconnected: 0, missingNodes: [] });
    expect(r.nodes).toEqual([{ node: "alone", disconnected: 0, error: undefined }]);
  });
});

describe("EraseUser over the HTTP API and gRPC", () => {
  let hub: TestHub | undefined;
  const clients: TestWsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.close();
    await hub?.stop();
    hub = undefined;
  });

  const post = async (method: string, body: unknown) => {
    const res = await fetch(`${hub!.httpUrl}/api/${method}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) };
  };
  const connect = async (user: string) => {
    const c = await TestWsClient.connect(hub!.wsUrl, await signToken(SECRET, { sub: user }));
    clients.push(c);
    return c;
  };

  it("POST /api/erase_user removes the user's publications; a client recovering over them is not told of a gap", async () => {
    hub = await startTestHub({ tokenHmacSecret: SECRET });
    const u = await connect("u");
    const v = await connect("v");
    const sub = (await v.call({ subscribe: { channel: "chat:h" } })).subscribe;
    expect((await u.call({ subscribe: { channel: "chat:h" } })).error).toBeUndefined();
    for (const [c, text] of [[u, "u1"], [v, "v1"], [u, "u2"]] as const)
      expect((await c.call({ publish: { channel: "chat:h", data: { text } } })).error).toBeUndefined();

    const r = await post("erase_user", { user: "u" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      publicationsRemoved: 2,
      disconnected: 1,
      stores: expect.arrayContaining([
        expect.objectContaining({ kind: "history", store: "memory", node: hub.config.nodeId, removed: 2, channels: { "chat:h": 2 } }),
      ]),
      nodes: [{ node: hub.config.nodeId, disconnected: 1 }],
    });
    await until(() => u.closeCode !== null);
    expect(u.closeCode).toBe(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT);

    const history = await post("history", { channel: "chat:h", limit: 10 });
    expect(history.body.publications.map((p: any) => [p.offset, p.data.text])).toEqual([["2", "v1"]]);
    expect(history.body.offset).toBe("3");
    // A client that saw nothing recovers from 0: what is left, recovered, no gap.
    const again = await connect("w");
    const rec = await again.call({ subscribe: { channel: "chat:h", recover: true, epoch: sub.epoch, offset: "0" } });
    expect(rec.subscribe).toMatchObject({ recovered: true, offset: "3", epoch: sub.epoch });
    expect(rec.subscribe.publications.map((p: any) => p.data.text)).toEqual(["v1"]);
    // And one that had seen v1 recovers over the erased 3.
    const late = await connect("w");
    const rec2 = await late.call({ subscribe: { channel: "chat:h", recover: true, epoch: sub.epoch, offset: "2" } });
    expect(rec2.subscribe).toMatchObject({ recovered: true, offset: "3" });
    expect(rec2.subscribe.publications ?? []).toEqual([]);
  });

  it("refuses an empty user with 107 over HTTP and INVALID_ARGUMENT over gRPC; gRPC erases like HTTP", async () => {
    hub = await startTestHub({ tokenHmacSecret: SECRET });
    const bad = await post("erase_user", { user: "" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 107, message: "user is required" });
    expect((await post("eraseUser", {})).body.error).toMatchObject({ code: 107 });

    const u = await connect("u");
    expect((await u.call({ subscribe: { channel: "chat:g" } })).error).toBeUndefined();
    const g = grpcClient(hub.grpcAddr);
    try {
      const err = await g.call("eraseUser", { user: "" }).then(() => null, (e: ServiceError) => e);
      expect(err?.code).toBe(status.INVALID_ARGUMENT);
      expect(err?.details).toContain("user is required");
      const r = await g.call<unknown, EraseUserResponse>("eraseUser", { user: "u", disconnect: false });
      expect(r).toMatchObject({ presenceRemoved: 1, disconnected: 0, missingNodes: [] });
      expect(r.stores.find((s) => s.kind === "presence")).toMatchObject({ store: "memory", removed: 1, channels: { "chat:g": 1 } });
      expect(u.closeCode).toBeNull();
      expect((await post("presence", { channel: "chat:g" })).body.presence ?? {}).toEqual({});
    } finally {
      g.close();
    }
  });
});
