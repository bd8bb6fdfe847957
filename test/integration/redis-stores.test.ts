import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Redis } from "ioredis";
import { historyStoreContract } from "../contract/history-store.js";
import { presenceStoreContract } from "../contract/presence-store.js";
import { RedisHistoryStore } from "../../src/history/redis.js";
import { RedisPresenceStore } from "../../src/presence/redis.js";
import { channelKey } from "../../src/redis/script.js";
import { startRedisServer, type ServerProcess } from "../helpers/processes.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

let server: ServerProcess & { url: string };
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});
const client = () => {
  // As the hub's clients (createRedis): auto-pipelining changes how ioredis sends commands.
  const c = new Redis(server.url, { enableAutoPipelining: true });
  clients.push(c);
  return c;
};

historyStoreContract("redis", async (now) => {
  // Redis expires keys by its own clock: drive the TTL case by shortening it for real.
  const store = new RedisHistoryStore(client(), `t${Math.random().toString(36).slice(2, 6)}`);
  return new ClockedHistory(store, now);
});
presenceStoreContract("redis", async (now) => new RedisPresenceStore(client(), `t${Math.random().toString(36).slice(2, 6)}`, now));

const info = (user: string, client: string) => ({ user, client, connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefix = () => `t${Math.random().toString(36).slice(2, 6)}`;

describe("RedisPresenceStore in production mode (no test clock)", () => {
  it("expires by the Redis server's clock, whatever the nodes' clocks say", async () => {
    const real = Date.now.bind(Date);
    let skew = -3_600_000;
    const spy = vi.spyOn(Date, "now").mockImplementation(() => real() + skew);
    try {
      const p = prefix();
      const behind = new RedisPresenceStore(client(), p);
      await behind.add("skew", info("u1", "a"), 60);
      skew = 3_600_000;
      const ahead = new RedisPresenceStore(client(), p);
      expect(Object.keys(await ahead.get("skew"))).toEqual(["a"]);
      await ahead.add("skew", info("u2", "short"), 0.2);
      skew = -3_600_000;
      expect(Object.keys(await behind.get("skew")).sort()).toEqual(["a", "short"]);
      await sleep(300);
      expect(Object.keys(await behind.get("skew"))).toEqual(["a"]);
    } finally {
      spy.mockRestore();
    }
  });

  it("drops hash fields that have no expiry (left by older versions)", async () => {
    const p = prefix();
    const store = new RedisPresenceStore(client(), p);
    await store.add("orphans", info("u1", "a"), 60);
    await client().hset(channelKey(p, "orphans", "p"), "ghost", "");
    expect(Object.keys(await store.get("orphans"))).toEqual(["a"]);
    expect(await client().hkeys(channelKey(p, "orphans", "p"))).toEqual(["a"]);
  });
});

describe("RedisHistoryStore.read", () => {
  it("returns a position that agrees with the publications while another node publishes", async () => {
    const p = prefix();
    const other = new RedisHistoryStore(client(), p);
    const opts = { size: 100, ttlSeconds: 60 };
    const publication = (n: number) => ({ data: Buffer.from([n, 0xff]), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" });
    for (let i = 1; i <= 3; i++) await other.append("race", publication(i), opts);
    // Another node publishes before every Redis command of the read but its first.
    const raw = client();
    let commands = 0;
    const racy = new Proxy(raw, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== "function") return v;
        return async (...args: unknown[]) => {
          if (commands++ > 0) await other.append("race", publication(9), opts);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const r = await new RedisHistoryStore(racy, p).read("race", { limit: 100 });
    expect(r.publications.at(-1)!.offset).toBe(r.position.offset);
    expect(r.publications.map((x) => [...x.data])).toEqual([[1, 0xff], [2, 0xff], [3, 0xff]]);
  });

  it("never serves a stream whose meta was lost (evicted) under the new epoch", async () => {
    const p = prefix();
    const store = new RedisHistoryStore(client(), p);
    const opts = { size: 100, ttlSeconds: 60 };
    const publication = (n: number) => ({ data: Buffer.from([n]), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" });
    for (let i = 1; i <= 3; i++) await store.append("evicted", publication(i), opts);
    await client().del(store.keys("evicted")[1]);
    expect((await store.append("evicted", publication(7), opts)).offset).toBe("1");
    const r = await store.read("evicted", { limit: 10 });
    expect(r.publications.map((x) => [x.offset, ...x.data])).toEqual([["1", 7]]);
    await client().del(store.keys("evicted")[1]);
    expect((await store.read("evicted", { limit: 10 })).publications).toEqual([]);
    expect((await store.append("evicted", publication(8), opts)).offset).toBe("1");
  });
});

/** CRC16-XMODEM, the checksum Redis Cluster hashes keys with (cluster spec, appendix A). */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/**
 * The Cluster slot of a key, as CLUSTER KEYSLOT computes it: only the part between the first
 * `{` and the next `}` is hashed when that part is not empty. (A redis-server outside cluster
 * mode refuses CLUSTER KEYSLOT, so the test computes it.)
 */
function keySlot(key: string): number {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return crc16(Buffer.from(close > open + 1 ? key.slice(open + 1, close) : key)) % 16384;
}

describe("the keys a hub writes to Redis", () => {
  let own: ServerProcess & { url: string };
  let hub: TestHub;
  let redis: Redis;
  const p = prefix();
  beforeAll(async () => {
    // A server of its own: every key on it is the hub's.
    own = await startRedisServer();
    hub = await startTestHub({ broker: "redis", presence: "redis", history: "redis", redisUrl: own.url, redisPrefix: p, nodeId: "keys" });
    redis = new Redis(own.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await hub?.stop();
    await own?.stop();
  });

  it("computes slots as Redis does", () => {
    // The cluster spec's CRC16 check value, and CLUSTER KEYSLOT answers from the Redis docs.
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3);
    expect(keySlot("somekey")).toBe(11058);
    expect(keySlot("foo{hash_tag}")).toBe(2515);
    expect(keySlot("foo{}{bar}")).toBe(crc16(Buffer.from("foo{}{bar}")) % 16384);
    expect(keySlot("foo{{bar}}zap")).toBe(crc16(Buffer.from("{bar")) % 16384);
  });

  it("carry the channel as a hash tag, so one channel's keys share a Cluster slot", async () => {
    // With a history and presence (every namespace has both in dev mode); names with the
    // characters a tag could trip on elsewhere: ':' and '.'.
    const channels = ["chat:room.1", "news:slots"];
    const clients: TestWsClient[] = [];
    for (const channel of channels) {
      const c = await TestWsClient.connect(hub.wsUrl);
      clients.push(c);
      expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
      for (let i = 0; i < 3; i++) await hub.api.publish({ channel, data: Buffer.from(`{"i":${i}}`), idempotencyKey: "", skipHistory: false, tags: {} });
    }
    const keys: string[] = [];
    for (let cursor = "0"; ; ) {
      const [next, batch] = await redis.scan(cursor, "COUNT", "100");
      keys.push(...batch);
      if ((cursor = next) === "0") break;
    }
    // Nothing else: every key the hub made belongs to one of the channels.
    const expected = channels.flatMap((ch) => ["h", "m", "p", "pz"].map((kind) => `${p}:{${ch}}:${kind}`));
    expect(keys.sort()).toEqual(expected.sort());
    for (const channel of channels) {
      const ofChannel = keys.filter((k) => k.startsWith(`${p}:{${channel}}:`));
      expect(ofChannel).toHaveLength(4);
      for (const k of ofChannel) expect(keySlot(k), k).toBe(keySlot(channel));
      expect(new Set(ofChannel.map(keySlot)).size).toBe(1);
      // Not a slot they would share anyway: hashed whole, without the tag, they spread.
      expect(new Set(ofChannel.map((k) => crc16(Buffer.from(k)) % 16384)).size).toBeGreaterThan(1);
    }
    expect(keySlot(expected[0]!)).not.toBe(keySlot(expected[4]!));

    // The layout docs/cluster.md describes, and a TTL on every key.
    const [channel] = channels as [string];
    const key = (kind: string) => `${p}:{${channel}}:${kind}`;
    for (const k of keys) expect(await redis.ttl(k), k).toBeGreaterThan(0);
    const entries = await redis.xrange(key("h"), "-", "+");
    expect(entries.map(([id]) => id)).toEqual(["1-0", "2-0", "3-0"]);
    for (const [, fields] of entries) expect(fields.filter((_, i) => i % 2 === 0)).toEqual(["d"]);
    const meta = await redis.hgetall(key("m"));
    expect(Object.keys(meta).sort()).toEqual(["e", "s"]);
    expect(meta.s).toBe("3");
    const client = clients[0]!.messages[0].connect.client as string;
    expect(await redis.hkeys(key("p"))).toEqual([client]);
    expect(await redis.zrange(key("pz"), "0", "-1")).toEqual([client]);
    for (const c of clients) c.close();
  });
});

/**
 * The contract's fake clock moves time forward; Redis TTLs run on the server's real clock.
 * This wrapper turns a fake-clock jump past the TTL into a real expiry of the channel's keys.
 */
class ClockedHistory {
  readonly kind = "redis";
  readonly shared = true;
  private lastAppend = new Map<string, { at: number; ttl: number }>();
  constructor(
    private readonly store: RedisHistoryStore,
    private readonly now: () => number,
  ) {}
  async append(channel: string, pub: any, opts: any) {
    await this.expireIfDue(channel);
    this.lastAppend.set(channel, { at: this.now(), ttl: opts.ttlSeconds });
    return this.store.append(channel, pub, opts);
  }
  async read(channel: string, opts: any) {
    await this.expireIfDue(channel);
    return this.store.read(channel, opts);
  }
  remove(channel: string) {
    return this.store.remove(channel);
  }
  eraseUser(user: string) {
    return this.store.eraseUser(user);
  }
  close() {
    return this.store.close();
  }
  private async expireIfDue(channel: string) {
    const last = this.lastAppend.get(channel);
    if (last && this.now() >= last.at + last.ttl * 1000) {
      const [h, m] = this.store.keys(channel);
      const r = clients[0]!;
      await r.pexpire(h, 1);
      await r.pexpire(m, 1);
      await new Promise((res) => setTimeout(res, 20));
      this.lastAppend.delete(channel);
    }
  }
}
