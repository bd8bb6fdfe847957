import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { RedisBroker } from "../../src/broker/redis.js";
import { createRedis, connectRedis } from "../../src/redis/connection.js";
import { startRedisServer, type ServerProcess } from "../helpers/processes.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

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
  const b = new RedisBroker(pub, sub, prefix, log);
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
