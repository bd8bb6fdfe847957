import type { Redis } from "ioredis";
import { ClientInfo } from "../gen/realtime/v1/types.js";
import { channelKey, RedisScript } from "../redis/script.js";
import { scanChannels } from "../redis/scan-channels.js";
import { redisError } from "../redis/connection.js";
import type { PresenceStats, PresenceStore } from "./presence-store.js";

/**
 * Redis 7.0 has no per-field TTL, so each channel has a hash (client id -> base64 ClientInfo) and a
 * sorted set (client id -> expiry time, ms); every script first drops what has expired, from
 * both. The keys themselves expire with the longest entry, so an abandoned channel leaves nothing.
 *
 * Time is the Redis server's (TIME) unless ARGV[1] gives one: expiry written by one node and
 * checked by another must not move with the skew between their clocks.
 */
const PRELUDE = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('time')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- In batches: unpack() of a whole dead node's entries overflows Lua's stack (~8000 values).
while true do
  local expired = redis.call('zrangebyscore', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
  if #expired == 0 then break end
  redis.call('hdel', KEYS[1], unpack(expired))
  redis.call('zrem', KEYS[2], unpack(expired))
end
`;

const ADD_LUA = `${PRELUDE}
local ttlMs = tonumber(ARGV[2])
redis.call('hset', KEYS[1], ARGV[3], ARGV[4])
redis.call('zadd', KEYS[2], now + ttlMs, ARGV[3])
local ttl = math.ceil(ttlMs / 1000)
if redis.call('ttl', KEYS[1]) < ttl then
  redis.call('expire', KEYS[1], ttl)
  redis.call('expire', KEYS[2], ttl)
end
return 1
`;

const GET_LUA = `${PRELUDE}
if redis.call('hlen', KEYS[1]) > redis.call('zcard', KEYS[2]) then
  -- Hash fields without a score are leftovers of older versions, which cleaned the sorted set
  -- only; nothing would ever expire them while the channel stays in use.
  local ids = redis.call('hkeys', KEYS[1])
  for i = 1, #ids do
    if not redis.call('zscore', KEYS[2], ids[i]) then redis.call('hdel', KEYS[1], ids[i]) end
  end
end
return redis.call('hgetall', KEYS[1])
`;

/** Removes the entries ARGV[2..] (after the expired ones); returns how many live ones it removed. */
const REMOVE_LUA = `${PRELUDE}
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('hdel', KEYS[1], ARGV[i])
  redis.call('zrem', KEYS[2], ARGV[i])
end
return n
`;

const addScript = new RedisScript(ADD_LUA);
const removeScript = new RedisScript(REMOVE_LUA);
const getScript = new RedisScript(GET_LUA);

export class RedisPresenceStore implements PresenceStore {
  readonly kind = "redis";
  /** Every node reads it: the node asked erases it once. */
  readonly shared = true;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** A clock for tests; by default the Redis server's clock decides expiry. */
    private readonly now?: () => number,
  ) {}

  private keys(channel: string): [string, string] {
    return [channelKey(this.prefix, channel, "p"), channelKey(this.prefix, channel, "pz")];
  }

  /** '' lets the script read the server's clock. */
  private clock(): number | string {
    return this.now ? this.now() : "";
  }

  async add(channel: string, info: ClientInfo, ttlSeconds: number): Promise<void> {
    await addScript.run(this.redis, this.keys(channel), [this.clock(), Math.round(ttlSeconds * 1000), info.client, Buffer.from(ClientInfo.encode(info).finish()).toString("base64")]);
  }

  async remove(channel: string, clientId: string): Promise<void> {
    const [hash, zset] = this.keys(channel);
    await this.redis
      .multi()
      .hdel(hash, clientId)
      .zrem(zset, clientId)
      .exec()
      .catch((err: unknown) => {
        throw redisError(err);
      });
  }

  async get(channel: string): Promise<Record<string, ClientInfo>> {
    const flat = (await getScript.run(this.redis, this.keys(channel), [this.clock()])) as string[];
    const out: Record<string, ClientInfo> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = ClientInfo.decode(Buffer.from(flat[i + 1]!, "base64"));
    return out;
  }

  async stats(channel: string): Promise<PresenceStats> {
    const entries = Object.values(await this.get(channel));
    return { numClients: entries.length, numUsers: new Set(entries.map((e) => e.user)).size };
  }

  /** Every channel's entries (SCAN of the hash keys): the user's client ids, then removed by id. */
  async eraseUser(user: string): Promise<Map<string, number>> {
    const removed = new Map<string, number>();
    try {
      for await (const channel of scanChannels(this.redis, this.prefix, "p", "hash")) {
        const ids = Object.entries(await this.get(channel)).filter(([, info]) => info.user === user).map(([id]) => id);
        if (ids.length === 0) continue;
        const n = (await removeScript.run(this.redis, this.keys(channel), [this.clock(), ...ids])) as number;
        if (n > 0) removed.set(channel, n);
      }
    } catch (err) {
      throw redisError(err);
    }
    return removed;
  }

  async close(): Promise<void> {
    // The connection is shared and closed by its owner.
  }
}
