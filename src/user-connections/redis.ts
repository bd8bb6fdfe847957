import type { Redis } from "ioredis";
import { redisError } from "../redis/connection.js";
import { RedisScript } from "../redis/script.js";
import type { UserConnectionStore } from "./user-connection-store.js";

/**
 * One sorted set per user: client id -> expiry time (ms). Every script first drops what has
 * expired; the key itself expires with its longest entry, so a user who left leaves nothing.
 * Time is the Redis server's (TIME) unless ARGV[1] gives one, as in presence/redis.ts: expiry
 * written by one node and counted by another must not move with the skew between their clocks.
 */
const PRELUDE = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('time')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttlMs = tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
`;

const EXTEND = `
if redis.call('pttl', KEYS[1]) < ttlMs then redis.call('pexpire', KEYS[1], ttlMs) end
`;

const TRY_ADD_LUA = `${PRELUDE}
if not redis.call('zscore', KEYS[1], ARGV[3]) and redis.call('zcard', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('zadd', KEYS[1], now + ttlMs, ARGV[3])
${EXTEND}
return 1
`;

const TOUCH_LUA = `${PRELUDE}
for i = 3, #ARGV do redis.call('zadd', KEYS[1], now + ttlMs, ARGV[i]) end
${EXTEND}
return 1
`;

const tryAddScript = new RedisScript(TRY_ADD_LUA);
const touchScript = new RedisScript(TOUCH_LUA);

/** Connections per user in Redis, shared by every node of the cluster (presence: redis). */
export class RedisUserConnectionStore implements UserConnectionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** A clock for tests; by default the Redis server's clock decides expiry. */
    private readonly now?: () => number,
  ) {}

  /** Not channelKey(): channel keys start `<prefix>:{`, so `<prefix>:user:` never meets one. */
  key(user: string): string {
    return `${this.prefix}:user:{${user}}:conns`;
  }

  /** '' lets the script read the server's clock. */
  private clock(): number | string {
    return this.now ? this.now() : "";
  }

  async tryAdd(user: string, client: string, max: number, ttlSeconds: number): Promise<boolean> {
    const r = await tryAddScript.run(this.redis, [this.key(user)], [this.clock(), Math.round(ttlSeconds * 1000), client, max]);
    return r === 1;
  }

  async touch(user: string, clients: string[], ttlSeconds: number): Promise<void> {
    if (clients.length === 0) return;
    await touchScript.run(this.redis, [this.key(user)], [this.clock(), Math.round(ttlSeconds * 1000), ...clients]);
  }

  async remove(user: string, client: string): Promise<void> {
    try {
      await this.redis.zrem(this.key(user), client);
    } catch (err) {
      throw redisError(err);
    }
  }
}
