import type { Redis } from "ioredis";
import { ClientInfo } from "../gen/realtime/v1/types.js";
import { channelKey, RedisScript } from "../redis/script.js";
import { redisError } from "../redis/connection.js";
import type { PresenceStats, PresenceStore } from "./presence-store.js";

/**
 * Redis 7.0 has no per-field TTL, so each channel has a hash (client id -> base64 ClientInfo) and a
 * sorted set (client id -> expiry time, ms); every script first drops what has expired. The
 * keys themselves expire with the longest entry, so an abandoned channel leaves nothing.
 */
const ADD_LUA = `
redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1])
redis.call('hset', KEYS[1], ARGV[3], ARGV[4])
redis.call('zadd', KEYS[2], ARGV[2], ARGV[3])
local ttl = math.ceil((ARGV[2] - ARGV[1]) / 1000)
if redis.call('ttl', KEYS[1]) < ttl then
  redis.call('expire', KEYS[1], ttl)
  redis.call('expire', KEYS[2], ttl)
end
return 1
`;

const GET_LUA = `
local expired = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[1])
if #expired > 0 then
  redis.call('hdel', KEYS[1], unpack(expired))
  redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1])
end
return redis.call('hgetall', KEYS[1])
`;

const addScript = new RedisScript(ADD_LUA);
const getScript = new RedisScript(GET_LUA);

export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(channel: string): [string, string] {
    return [channelKey(this.prefix, channel, "p"), channelKey(this.prefix, channel, "pz")];
  }

  async add(channel: string, info: ClientInfo, ttlSeconds: number): Promise<void> {
    const now = this.now();
    await addScript.run(this.redis, this.keys(channel), [now, now + ttlSeconds * 1000, info.client, Buffer.from(ClientInfo.encode(info).finish()).toString("base64")]);
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
    const flat = (await getScript.run(this.redis, this.keys(channel), [this.now()])) as string[];
    const out: Record<string, ClientInfo> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = ClientInfo.decode(Buffer.from(flat[i + 1]!, "base64"));
    return out;
  }

  async stats(channel: string): Promise<PresenceStats> {
    const entries = Object.values(await this.get(channel));
    return { numClients: entries.length, numUsers: new Set(entries.map((e) => e.user)).size };
  }

  async close(): Promise<void> {
    // The connection is shared and closed by its owner.
  }
}
