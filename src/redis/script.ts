import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { redisError } from "./connection.js";

/** A Lua script run by SHA (EVALSHA), loaded on first use or after a server restart (NOSCRIPT). */
export class RedisScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(redis: Redis, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    try {
      return await this.runRaw(redis, keys, args);
    } catch (err) {
      throw redisError(err);
    }
  }

  private async runRaw(redis: Redis, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    try {
      // Replies are strings: scripts return numbers and text (binary values are base64).
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** Key names: every key of one channel shares the hash tag `{channel}`, so one Cluster slot. */
export function channelKey(prefix: string, channel: string, kind: string): string {
  return `${prefix}:{${channel}}:${kind}`;
}
