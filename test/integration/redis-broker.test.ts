import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { Redis } from "ioredis";
import { brokerContract } from "../contract/broker.js";
import { RedisBroker, type RedisBrokerLimits } from "../../src/broker/redis.js";
import { PublishBacklogFull } from "../../src/broker/pending-bound.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { defaultNamespace } from "../../src/config.js";
import { createRedis, connectRedis } from "../../src/redis/connection.js";
import { stall, startRedisServer, type ServerProcess } from "../helpers/processes.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { until } from "../helpers/until.js";
import { pendingBounds } from "../helpers/broker-bounds.js";

const log = pino({ level: "silent" });
let server: ServerProcess & { url: string };
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => server?.stop());

const prefix = `c${Math.random().toString(36).slice(2, 6)}`;
brokerContract("redis", async () => {
  const pub = createRedis(server.url, log, "pub");
  const sub = createRedis(server.url, log, "sub");
  await connectRedis(pub, server.url);
  await connectRedis(sub, server.url);
  const b = new RedisBroker(pub, sub, prefix, log, pendingBounds());
  const close = b.close.bind(b);
  b.close = async () => {
    await close();
    pub.disconnect();
    sub.disconnect();
  };
  return b;
});

describe("two hub nodes on one Redis", () => {
  let a: TestHub;
  let b: TestHub;
  beforeAll(async () => {
    const cfg = { broker: "redis" as const, redisUrl: server.url, redisPrefix: `n${Math.random().toString(36).slice(2, 6)}` };
    a = await startTestHub({ ...cfg, nodeId: "node-a" });
    b = await startTestHub({ ...cfg, nodeId: "node-b" });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("share offsets, presence and history; deliver exactly once across nodes", async () => {
    expect(a.node.config.presence).toBe("redis");
    const ca = await TestWsClient.connect(a.wsUrl);
    const cb = await TestWsClient.connect(b.wsUrl);
    await ca.call({ subscribe: { channel: "room:1" } });
    await cb.call({ subscribe: { channel: "room:1" } });
    for (let i = 0; i < 10; i++) await (i % 2 ? a : b).api.publish({ channel: "room:1", data: Buffer.from(String(i)), idempotencyKey: "", skipHistory: false, tags: {} });
    await ca.waitFor(() => ca.pubs("room:1").length >= 10);
    await cb.waitFor(() => cb.pubs("room:1").length >= 10);
    await new Promise((r) => setTimeout(r, 200));
    for (const c of [ca, cb]) {
      expect(c.pubs("room:1").map((p) => p.offset)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
      expect(c.pubs("room:1").map((p) => p.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    const presence = await a.api.presence({ channel: "room:1" });
    expect(Object.keys(presence.presence).sort()).toEqual([ca.messages[0].connect.client, cb.messages[0].connect.client].sort());
    // Recover on the other node.
    const epoch = cb.pubs("room:1")[0].epoch;
    cb.close();
    await a.api.publish({ channel: "room:1", data: Buffer.from("10"), idempotencyKey: "", skipHistory: false, tags: {} });
    const again = await TestWsClient.connect(a.wsUrl);
    const r = await again.call({ subscribe: { channel: "room:1", recover: true, epoch, offset: "10" } });
    expect(r.subscribe).toMatchObject({ recovered: true, offset: "11" });
    expect(r.subscribe.publications.map((p: any) => p.data)).toEqual([10]);
    ca.close();
    again.close();
  });
});

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("Redis connected but not reading", () => {
  let own: ServerProcess & { url: string };
  let pid = 0;
  const clients: Redis[] = [];
  beforeAll(async () => {
    // A server of its own: stopping the shared one would stall the other suites of this file.
    own = await startRedisServer();
    pid = own.pid;
  });
  afterAll(async () => {
    process.kill(pid, "SIGCONT");
    clients.forEach((c) => c.disconnect());
    await own?.stop();
  });

  async function broker(limits: Partial<RedisBrokerLimits>, p: string): Promise<RedisBroker> {
    const pub = createRedis(own.url, log, "pub");
    const sub = createRedis(own.url, log, "sub");
    clients.push(pub, sub);
    await connectRedis(pub, own.url);
    await connectRedis(sub, own.url);
    return new RedisBroker(pub, sub, p, log, pendingBounds(limits));
  }

  const env = (channel: string, data: string | Buffer): BrokerEnvelope => ({
    origin: "a",
    channel,
    publication: { data: Buffer.from(data), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" },
  });

  /**
   * Publishes `make(n)` a few at a time, yielding to the event loop between batches, for `ms`
   * while the server is stopped. Returns the numbers of the publishes still waiting (accepted)
   * and the errors of the refused ones, which must all have failed by the next tick.
   */
  async function flood(publish: (n: number) => Promise<unknown>, ms: number, watch: () => void) {
    const waiting = new Set<number>();
    const errors: unknown[] = [];
    const end = Date.now() + ms;
    let n = 0;
    while (Date.now() < end) {
      for (let i = 0; i < 20; i++, n++) {
        const id = n;
        waiting.add(id);
        publish(id).then(
          () => waiting.delete(id),
          (err) => {
            waiting.delete(id);
            errors.push(err);
          },
        );
      }
      await tick();
      watch();
    }
    return { waiting, errors, sent: n };
  }

  it("fails publishes past the count and byte limits at once, and delivers what it accepted once the server reads again", async () => {
    const p = `s${Math.random().toString(36).slice(2, 6)}`;
    const a = await broker({ maxPending: 50, maxPendingBytes: 64 * 1024 }, p);
    const b = await broker({}, p);
    const got: string[] = [];
    await a.start(() => undefined);
    await b.start((e) => got.push(e.publication!.data.toString()));
    await b.subscribe("slow");
    let most = { count: 0, bytes: 0 };
    const watch = () => {
      const now = a.pendingPublishes();
      most = { count: Math.max(most.count, now.count), bytes: Math.max(most.bytes, now.bytes) };
    };
    try {
      // Count: small publishes; nothing is answered while the server is stopped.
      await stall(pid);
      const small = await flood((n) => a.publish(env("slow", `s${n}`)), 600, watch);
      expect(small.sent).toBeGreaterThan(200);
      expect(small.waiting.size).toBe(50);
      expect(small.errors).toHaveLength(small.sent - 50);
      expect(small.errors[0]).toBeInstanceOf(PublishBacklogFull);
      expect(small.errors[0]).toMatchObject({ temporary: true, message: expect.stringMatching(/^redis publish backlog full: 50 publishes unanswered, limit 50/) });
      expect(most.count).toBe(50);
      // The history script shares the bound: refused at once too, as a temporary error.
      await expect(a.publishWithHistory(env("slow-h", "h"), { size: 10, ttlSeconds: 60 })).rejects.toMatchObject({ temporary: true, message: expect.stringMatching(/redis publish backlog full/) });

      process.kill(pid, "SIGCONT");
      await until(() => small.waiting.size === 0);
      await until(() => got.length >= 50);
      await new Promise((r) => setTimeout(r, 200));
      // Exactly what was accepted, in order: refused publishes were never queued.
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `s${i}`));
      expect(a.pendingPublishes()).toEqual({ count: 0, bytes: 0 });

      // Bytes: 4 KiB publishes against 64 KiB.
      got.length = 0;
      most = { count: 0, bytes: 0 };
      await stall(pid);
      const big = await flood((n) => a.publish(env("slow", Buffer.alloc(4096, n % 26 + 97))), 400, watch);
      const accepted = big.waiting.size;
      expect(accepted).toBeGreaterThan(10);
      expect(accepted).toBeLessThan(16);
      expect(most.bytes).toBeLessThanOrEqual(64 * 1024);
      expect(big.errors).toHaveLength(big.sent - accepted);
      expect(big.errors[0]).toMatchObject({ temporary: true, message: expect.stringMatching(/^redis publish backlog full: \d+ bytes would be unanswered, limit 65536/) });
      process.kill(pid, "SIGCONT");
      await until(() => big.waiting.size === 0 && got.length >= accepted);
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toHaveLength(accepted);

      // Publishing works again, both ways.
      await a.publish(env("slow", "after"));
      const pos = await a.publishWithHistory(env("slow", "after-h"), { size: 10, ttlSeconds: 60 });
      expect(pos.offset).toBe("1");
      await until(() => got.includes("after-h"));
    } finally {
      process.kill(pid, "SIGCONT");
      await a.close();
      await b.close();
    }
  }, 30_000);

  it("a hub keeps delivering locally, and answers history publishes with a temporary error (503)", async () => {
    const hub = await startTestHub({
      broker: "redis",
      redisUrl: own.url,
      redisPrefix: `h${Math.random().toString(36).slice(2, 6)}`,
      redisMaxPending: 20,
      namespaces: [{ ...defaultNamespace("live"), allowPublish: true }],
    });
    const c = await TestWsClient.connect(hub.wsUrl);
    try {
      await c.call({ subscribe: { channel: "live:1" } });
      await c.call({ subscribe: { channel: "room:1" } });
      const failures = hub.node.counters.brokerPublishFailures;
      await stall(pid);
      for (let i = 0; i < 100; i++)
        await hub.api.publish({ channel: "live:1", data: Buffer.from(String(i)), idempotencyKey: "", skipHistory: false, tags: {} });
      await c.waitFor(() => c.pubs("live:1").length >= 100);
      expect(c.pubs("live:1").map((x: any) => x.data)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      // 20 wait for Redis; the rest (80, one more if the node announced itself meanwhile) failed.
      await until(() => hub.node.counters.brokerPublishFailures - failures >= 80);
      expect((hub.node.broker as RedisBroker).pendingPublishes().count).toBe(20);

      // A connection of its own, not fetch's pool: in two CI runs fetch got no answer here within
      // 5 s while the node's bound was full (so the publish fails at once, as a node-level publish
      // and a fresh connection did when tried at this point). The pool of this long-lived test
      // process is suspected (a kept-alive socket to a port a new hub reused), not the hub.
      const t0 = Date.now();
      const res = await postFresh(`${hub.httpUrl}/api/publish`, { channel: "room:1", data: { n: 1 } });
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body).error).toMatchObject({ temporary: true, message: expect.stringMatching(/redis publish backlog full/) });

      process.kill(pid, "SIGCONT");
      await until(() => (hub.node.broker as RedisBroker).pendingPublishes().count === 0);
      const ok = await postFresh(`${hub.httpUrl}/api/publish`, { channel: "room:1", data: { n: 2 } });
      expect(ok.status).toBe(200);
      await c.waitFor(() => c.pubs("room:1").some((x: any) => x.data?.n === 2));
    } finally {
      process.kill(pid, "SIGCONT");
      c.close();
      await hub.stop();
    }
  }, 30_000);
});

/** POST `body` as JSON on a connection of its own; fails after 5 s without an answer. */
function postFresh(url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" }, agent: false }, (r) => {
      let text = "";
      r.on("data", (d: Buffer) => (text += d.toString()));
      r.on("end", () => resolve({ status: r.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("no answer within 5 s")));
    req.end(JSON.stringify(body));
  });
}
