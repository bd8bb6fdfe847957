import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { RedisIdempotencyStore } from "../../src/idempotency/redis.js";
import { channelKey } from "../../src/redis/script.js";
import { idempotencyStoreContract } from "../contract/idempotency-store.js";
import { hubApi, startHubProcess, type HubProcess } from "../helpers/cluster.js";
import { stall, startRedisServer, type ServerProcess } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";

let server: ServerProcess & { url: string };
const clients: Redis[] = [];
const hubs: HubProcess[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  for (const h of hubs) await h.stop();
  for (const c of clients) c.disconnect();
  await server?.stop();
});
/** One client per simulated node, as the hub makes them (auto-pipelining). */
const client = (url = server.url) => {
  const c = new Redis(url, { enableAutoPipelining: true });
  c.on("error", () => undefined); // a server a test stops
  clients.push(c);
  return c;
};
const prefix = () => `i${Math.random().toString(36).slice(2, 7)}`;

idempotencyStoreContract("redis", async (windowMs) => {
  const p = prefix();
  return [new RedisIdempotencyStore(client(), p, { windowMs }), new RedisIdempotencyStore(client(), p, { windowMs })];
});

describe("RedisIdempotencyStore", () => {
  it("keeps the result under the channel's hash tag for the window", async () => {
    const p = prefix();
    const redis = client();
    const store = new RedisIdempotencyStore(redis, p, { windowMs: 60_000 });
    await store.run("orders:7", "key-1", async () => ({ offset: "42", epoch: "ep:x" }));
    const key = channelKey(p, "orders:7", "i:key-1");
    expect(key).toContain("{orders:7}");
    expect(await redis.get(key)).toBe("r:42:ep:x");
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    store.close();
  });

  it("a repeat while another node still runs the first call waits for its result", async () => {
    const p = prefix();
    const [a, b] = [new RedisIdempotencyStore(client(), p, { windowMs: 60_000 }), new RedisIdempotencyStore(client(), p, { windowMs: 60_000 })];
    let release!: () => void;
    const slow = a.run("ch", "k", () => new Promise((r) => (release = () => r({ offset: "7", epoch: "e" }))));
    await new Promise((r) => setTimeout(r, 100)); // a holds the claim
    let ran = false;
    const repeat = b.run("ch", "k", async () => {
      ran = true;
      return { offset: "8", epoch: "e" };
    });
    await new Promise((r) => setTimeout(r, 200));
    release();
    expect(await repeat).toEqual({ offset: "7", epoch: "e" });
    expect(await slow).toEqual({ offset: "7", epoch: "e" });
    expect(ran).toBe(false);
  });

  it("answers a temporary 'retry' when the other node's call outlasts the wait", async () => {
    const p = prefix();
    const a = new RedisIdempotencyStore(client(), p, { windowMs: 60_000 });
    const b = new RedisIdempotencyStore(client(), p, { windowMs: 60_000, waitMs: 300 });
    let release!: () => void;
    const slow = a.run("ch", "k", () => new Promise((r) => (release = () => r({ offset: "1", epoch: "e" }))));
    await new Promise((r) => setTimeout(r, 100));
    await expect(b.run("ch", "k", async () => ({ offset: "2", epoch: "e" }))).rejects.toMatchObject({
      temporary: true,
      message: expect.stringMatching(/still running, or the node that claimed it failed .*; retry/),
    });
    release();
    await slow;
    // Once the first call is done, the retry gets its result.
    expect(await b.run("ch", "k", async () => ({ offset: "3", epoch: "e" }))).toEqual({ offset: "1", epoch: "e" });
  });

  it("says so when a publish outlasted its claim and another node took the key meanwhile", async () => {
    const p = prefix();
    const warnings: string[] = [];
    const log = { warn: (_obj: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
    const a = new RedisIdempotencyStore(client(), p, { windowMs: 60_000, claimMs: 100, log });
    const b = new RedisIdempotencyStore(client(), p, { windowMs: 60_000, claimMs: 100 });
    const slow = a.run("ch", "k", () => new Promise((r) => setTimeout(() => r({ offset: "1", epoch: "e" }), 400)));
    await new Promise((r) => setTimeout(r, 200)); // a's claim has lapsed
    expect(await b.run("ch", "k", async () => ({ offset: "2", epoch: "e" }))).toEqual({ offset: "2", epoch: "e" });
    await slow;
    expect(warnings).toEqual(["idempotent publish outlasted its claim: a repeat may be published twice"]);
  });

  it("fails with a temporary error when a connected Redis stops answering, without running the call", async () => {
    const own = await startRedisServer();
    try {
      const store = new RedisIdempotencyStore(client(own.url), prefix(), { windowMs: 60_000, waitMs: 300 });
      await store.run("ch", "warm", async () => ({ offset: "1", epoch: "e" })); // connected
      await stall(own.pid);
      let ran = false;
      const started = Date.now();
      await expect(
        store.run("ch", "k", async () => {
          ran = true;
          return { offset: "2", epoch: "e" };
        }),
      ).rejects.toMatchObject({ temporary: true, message: expect.stringMatching(/no answer within 300 ms/) });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(ran).toBe(false);
    } finally {
      process.kill(own.pid, "SIGCONT");
      await own.stop();
    }
  });

  it("fails with a temporary error while Redis is unreachable, without running the call", async () => {
    const down = new Redis("redis://127.0.0.1:1", { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on("error", () => undefined);
    clients.push(down);
    const store = new RedisIdempotencyStore(down, prefix(), { windowMs: 60_000 });
    let ran = false;
    await expect(
      store.run("ch", "k", async () => {
        ran = true;
        return { offset: "1", epoch: "e" };
      }),
    ).rejects.toMatchObject({ temporary: true, message: expect.stringMatching(/redis unavailable/) });
    expect(ran).toBe(false);
  });
});

describe("idempotency across hub processes", () => {
  it("a retry that reaches another node is answered with the first result and not delivered again", async () => {
    const args = ["--broker", "redis", "--redis-url", server.url, "--redis-prefix", prefix()];
    const [a, b] = await Promise.all([startHubProcess("id-a", args), startHubProcess("id-b", args)]);
    hubs.push(a, b);
    const x = await TestWsClient.connect(b.wsUrl);
    await x.call({ subscribe: { channel: "idem" } });
    const req = { channel: "idem", data: { n: 1 }, idempotencyKey: "order-1" };
    const first = await hubApi(a, "publish", req);
    const again = await hubApi(b, "publish", req);
    expect(again).toEqual(first);
    await hubApi(a, "publish", { channel: "idem", data: { n: 2 }, idempotencyKey: "order-2" });
    await x.waitFor(() => x.pubs("idem").length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(x.pubs("idem").map((p) => p.data.n)).toEqual([1, 2]);
    x.close();
  });
});
