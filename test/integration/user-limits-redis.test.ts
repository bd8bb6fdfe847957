import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { signToken } from "../../src/auth/jwt.js";
import { RedisUserConnectionStore } from "../../src/user-connections/redis.js";
import { startRedisServer, type ServerProcess } from "../helpers/processes.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { until, eventually } from "../helpers/until.js";
import { createTestNode, createTestSession } from "../helpers/node.js";
import { ManualClock } from "../helpers/manual-clock.js";

/** maxConnectionsPerUser across the cluster: nodes that keep presence in one Redis share the count. */
let server: ServerProcess & { url: string };
let redis: Redis;
beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url, { enableAutoPipelining: true });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});
const prefix = () => `t${Math.random().toString(36).slice(2, 8)}`;

describe("RedisUserConnectionStore", () => {
  it("counts live entries only, refreshes those touched, and lets one of several racing adds take the last slot", async () => {
    let now = 1_000_000;
    const store = new RedisUserConnectionStore(redis, prefix(), () => now);
    expect(await store.tryAdd("u", "a", 2, 60)).toBe(true);
    expect(await store.tryAdd("u", "b", 2, 60)).toBe(true);
    expect(await store.tryAdd("u", "c", 2, 60)).toBe(false);
    expect(await store.tryAdd("u", "a", 2, 60)).toBe(true); // already there: refreshed
    now += 50_000;
    await store.touch("u", ["a"], 60);
    now += 20_000; // b (a node that died) expired, a was refreshed
    expect(await store.tryAdd("u", "c", 2, 60)).toBe(true);
    expect(await store.tryAdd("u", "d", 2, 60)).toBe(false);
    await store.remove("u", "c");
    const racing = await Promise.all(["e", "f", "g", "h"].map((c) => store.tryAdd("u", c, 3, 60)));
    expect(racing.filter(Boolean)).toHaveLength(2);
  });

  it("the key expires with its last entry", async () => {
    const store = new RedisUserConnectionStore(redis, prefix());
    await store.tryAdd("gone", "a", 5, 1);
    expect(await redis.pttl(store.key("gone"))).toBeGreaterThan(0);
    expect(await redis.pttl(store.key("gone"))).toBeLessThanOrEqual(1000);
  });
});

describe("UserConnectionLimit with the Redis store", () => {
  it("refreshes this node's entries while they stay; those of a node that died stop counting after presenceTtlSeconds", async () => {
    const clock = new ManualClock();
    const store = new RedisUserConnectionStore(redis, prefix(), () => clock.now());
    const secret = "refresh-secret";
    const node = await createTestNode({ maxConnectionsPerUser: 1, presenceTtlSeconds: 3, tokenHmacSecret: secret }, undefined, { clock, userConnections: store });
    try {
      const c = createTestSession(node, secret);
      c.send({ id: 1, connect: { token: await signToken(secret, { sub: "dan" }) } });
      await eventually(() => expect(c.transport.reply(1).connect).toBeDefined());
      await clock.advance(10_000); // past the TTL three times over: refreshed every second
      expect(await store.tryAdd("dan", "on-another-node", 1, 3)).toBe(false);
      // The node dies: nothing refreshes its entry any more (and nothing removes it).
      await node.userConnections.stop();
      await clock.advance(3_001);
      expect(await store.tryAdd("dan", "on-another-node", 1, 3)).toBe(true);
    } finally {
      await node.shutdown();
    }
  });
});

describe("maxConnectionsPerUser across two nodes", () => {
  const SECRET = "cluster-user-limit";
  const hubs: TestHub[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) await h.stop();
  });
  async function twoNodes(max: number): Promise<[TestHub, TestHub]> {
    const cfg = { presence: "redis", redisUrl: server.url, redisPrefix: prefix(), maxConnectionsPerUser: max, tokenHmacSecret: SECRET } as const;
    for (const nodeId of ["node-a", "node-b"]) hubs.push(await startTestHub({ ...cfg, nodeId }));
    return [hubs[0]!, hubs[1]!];
  }
  const refusals = async (h: TestHub) => {
    const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("realtime_limit_refusals_total{") && l.includes('limit="connections_per_user"'));
    return Number(line?.slice(line.lastIndexOf(" ") + 1));
  };
  /** Connects as `token`: the open client, or the refusal's error code and close code. */
  async function tryConnect(h: TestHub, token: string): Promise<TestWsClient | { error: number; close: number }> {
    const c = await TestWsClient.open(h.wsUrl);
    const r = await c.call({ connect: { token } });
    if (!r.error) return c;
    return { error: r.error.code, close: await c.waitClosed() };
  }

  it("counts the user's connections on every node: past the cap, either node refuses (106, then 3505)", async () => {
    const [a, b] = await twoNodes(2);
    const alice = await signToken(SECRET, { sub: "alice" });
    const onA = await TestWsClient.connect(a.wsUrl, alice);
    const onB = await TestWsClient.connect(b.wsUrl, alice);
    expect(await tryConnect(a, alice)).toEqual({ error: 106, close: 3505 });
    expect(await tryConnect(b, alice)).toEqual({ error: 106, close: 3505 });
    expect(await refusals(a)).toBe(1);
    expect(await refusals(b)).toBe(1);
    // Another user has slots of their own.
    const bob = await TestWsClient.connect(a.wsUrl, await signToken(SECRET, { sub: "bob" }));
    // A connection closing on one node frees a slot on the other.
    onA.close();
    const again = await until(async () => {
      const c = await tryConnect(b, alice);
      return c instanceof TestWsClient ? c : undefined;
    }, { what: "alice's slot back on node b" });
    for (const c of [onB, bob, again]) c.close();
  });

  it("a node that stops gives its connections back to the cluster", async () => {
    const [a, b] = await twoNodes(2);
    const carol = await signToken(SECRET, { sub: "carol" });
    await TestWsClient.connect(a.wsUrl, carol);
    await TestWsClient.connect(a.wsUrl, carol);
    expect(await tryConnect(b, carol)).toEqual({ error: 106, close: 3505 });
    await a.stop();
    const onB = [await TestWsClient.connect(b.wsUrl, carol), await TestWsClient.connect(b.wsUrl, carol)];
    for (const c of onB) c.close();
  });
});
