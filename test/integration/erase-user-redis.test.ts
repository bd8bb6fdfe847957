import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { signToken } from "../../src/auth/jwt.js";
import { RedisHistoryStore } from "../../src/history/redis.js";
import { RedisPresenceStore } from "../../src/presence/redis.js";
import { DisconnectCode } from "../../src/gen/realtime/v1/types.js";
import { startHubProcess, hubApi, type HubProcess } from "../helpers/cluster.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { startRedisServer, type ServerProcess } from "../helpers/processes.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { erasureContract } from "./erase-user-contract.js";

const SECRET = "erase-user-redis-secret-of-32-bytes";
let server: ServerProcess & { url: string };
const redisClients: Redis[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  for (const c of redisClients) c.disconnect();
  await server?.stop();
});
const client = () => {
  // As the hub's clients (createRedis): auto-pipelining changes how ioredis sends commands.
  const c = new Redis(server.url, { enableAutoPipelining: true });
  redisClients.push(c);
  return c;
};
const prefix = () => `e${Math.random().toString(36).slice(2, 8)}`;

erasureContract("redis", async () => {
  const p = prefix();
  return { history: new RedisHistoryStore(client(), p), presence: new RedisPresenceStore(client(), p) };
});

describe("RedisHistoryStore.eraseUser", () => {
  it("walks only the prefix's channel streams: other keys, and keys that name no channel, are left alone", async () => {
    const p = prefix();
    const r = client();
    const store = new RedisHistoryStore(r, p);
    const info = { user: "u", client: "c", connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) };
    await store.append("chat:1", { data: Buffer.from("1"), offset: "0", epoch: "", tags: {}, info, time: "0" }, { size: 10, ttlSeconds: 60 });
    const other = new RedisHistoryStore(r, prefix());
    await other.append("chat:1", { data: Buffer.from("1"), offset: "0", epoch: "", tags: {}, info, time: "0" }, { size: 10, ttlSeconds: 60 });
    await r.xadd(`${p}:{a}b}:h`, "*", "d", "x"); // no channel has braces
    await r.set(`${p}:{chat:1}:i:k}:h`, "1"); // an idempotency key that happens to match
    expect(Object.fromEntries(await store.eraseUser("u"))).toEqual({ "chat:1": 1 });
    expect((await other.read("chat:1", { limit: 10 })).publications).toHaveLength(1);
    expect(await r.xlen(`${p}:{a}b}:h`)).toBe(1);
    // The TTLs stay those of the last publication: erasing does not make history live longer.
    const [h, m] = store.keys("chat:1");
    expect(await r.ttl(h)).toBeGreaterThan(50);
    expect(await r.ttl(m)).toBeGreaterThan(50);
  });
});

describe("two hub nodes on Redis stores", () => {
  let a: TestHub;
  let b: TestHub;
  const ws: TestWsClient[] = [];
  beforeAll(async () => {
    const cfg = { broker: "redis" as const, redisUrl: server.url, redisPrefix: prefix(), tokenHmacSecret: SECRET };
    a = await startTestHub({ ...cfg, nodeId: "ra" });
    b = await startTestHub({ ...cfg, nodeId: "rb" });
    await until(async () => (await hubApi(a, "info", {})).nodes?.length === 2, 10_000);
  });
  afterAll(async () => {
    for (const c of ws) c.ws.close();
    await a?.stop();
    await b?.stop();
  });
  const connect = async (hub: TestHub, user: string) => {
    const c = await TestWsClient.connect(hub.wsUrl, await signToken(SECRET, { sub: user }));
    ws.push(c);
    return c;
  };

  it("erases the shared stores once, by the node asked, after both nodes closed the user's connections", async () => {
    const ua = await connect(a, "u");
    const ub = await connect(b, "u");
    const vb = await connect(b, "v");
    for (const [c, text] of [[ua, "ua"], [vb, "v"], [ub, "ub"]] as const) {
      expect((await c.call({ subscribe: { channel: "chat:r" } })).error).toBeUndefined();
      expect((await c.call({ publish: { channel: "chat:r", data: { text } } })).error).toBeUndefined();
    }
    expect(Object.keys((await hubApi(a, "presence", { channel: "chat:r" })).presence)).toHaveLength(3);

    const r = await hubApi(a, "erase_user", { user: "u" });
    expect(r.stores).toEqual([
      { kind: "history", store: "redis", removed: 2, channels: { "chat:r": 2 } },
      // The connections' own leave removes most of their presence; what is left is counted.
      expect.objectContaining({ kind: "presence", store: "redis" }),
    ]);
    expect(r).toMatchObject({ publicationsRemoved: 2, disconnected: 2, nodes: [{ node: "ra", disconnected: 1 }, { node: "rb", disconnected: 1 }] });
    expect(r.missingNodes ?? []).toEqual([]);
    await until(() => ua.closeCode !== null && ub.closeCode !== null);
    expect([ua.closeCode, ub.closeCode]).toEqual([DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT, DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT]);
    expect(vb.closeCode).toBeNull();

    for (const hub of [a, b]) {
      const h = await hubApi(hub, "history", { channel: "chat:r", limit: 10 });
      expect(h.publications.map((p: any) => [p.offset, p.data.text])).toEqual([["2", "v"]]);
      expect(h.offset).toBe("3");
      expect(Object.values((await hubApi(hub, "presence", { channel: "chat:r" })).presence).map((i: any) => i.user)).toEqual(["v"]);
    }
    // Recovery on the other node over the erased 1 and 3: no gap.
    const w = await connect(b, "w");
    const rec = await w.call({ subscribe: { channel: "chat:r", recover: true, epoch: (await hubApi(b, "history", { channel: "chat:r", limit: 0 })).epoch, offset: "0" } });
    expect(rec.subscribe).toMatchObject({ recovered: true, offset: "3" });
    expect(rec.subscribe.publications.map((p: any) => p.data.text)).toEqual(["v"]);
  });
});

describe("a cluster of hub processes with memory stores (Redis broker)", () => {
  let nodes: HubProcess[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it("each node erases its own memory; a node that died is named missing", async () => {
    const args = ["--broker", "redis", "--redis-url", server.url, "--redis-prefix", prefix(), "--history", "memory", "--presence", "memory", "--token-hmac-secret", SECRET];
    nodes = await Promise.all(["ea", "eb"].map((id) => startHubProcess(id, args)));
    const [a, b] = nodes as [HubProcess, HubProcess];
    await until(async () => (await hubApi(a, "info", {})).nodes?.length === 2, 15_000);
    for (const n of nodes) {
      const c = await TestWsClient.connect(n.wsUrl, await signToken(SECRET, { sub: "u" }));
      expect((await c.call({ subscribe: { channel: "chat:p" } })).error).toBeUndefined();
      expect((await c.call({ publish: { channel: "chat:p", data: { text: n.id } } })).error).toBeUndefined();
      c.ws.close();
    }
    const c = await TestWsClient.connect(b.wsUrl, await signToken(SECRET, { sub: "u" }));
    expect((await c.call({ publish: { channel: "chat:q", data: { text: "again" } } })).error).toBeUndefined();

    const r = await hubApi(a, "erase_user", { user: "u" });
    expect(r.stores).toEqual([
      { kind: "history", store: "memory", node: "ea", removed: 1, channels: { "chat:p": 1 } },
      expect.objectContaining({ kind: "presence", store: "memory", node: "ea" }),
      { kind: "history", store: "memory", node: "eb", removed: 2, channels: { "chat:p": 1, "chat:q": 1 } },
      expect.objectContaining({ kind: "presence", store: "memory", node: "eb" }),
    ]);
    expect(r).toMatchObject({ publicationsRemoved: 3, disconnected: 1 });
    expect(r.missingNodes ?? []).toEqual([]);
    await until(() => c.closeCode !== null);

    await b.kill9();
    const started = Date.now();
    const again = await hubApi(a, "erase_user", { user: "u" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(again.missingNodes).toEqual(["eb"]);
    expect(again.nodes).toEqual([{ node: "ea" }]);
  }, 60_000);
});
