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
      return await this.runRaw(redis, keys, args, false);
    } catch (err) {
      throw redisError(err);
    }
  }

  /** Like run(), but text replies come back as Buffers, so binary values need no base64. */
  async runBuffer(redis: Redis, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
    try {
      return await this.runRaw(redis, keys, args, true);
    } catch (err) {
      throw redisError(err);
    }
  }

  private async runRaw(redis: Redis, keys: string[], args: Array<string | Buffer | number>, buffers: boolean): Promise<unknown> {
    // Not call()/callBuffer(): with auto-pipelining (our clients' setting) ioredis 6 drops the
    // command name of callBuffer(). The *Buffer variants exist for every command, typed or not.
    const r = redis as unknown as Record<"evalsha" | "eval" | "evalshaBuffer" | "evalBuffer", Eval>;
    try {
      return await (buffers ? r.evalshaBuffer(this.sha, keys.length, ...keys, ...args) : r.evalsha(this.sha, keys.length, ...keys, ...args));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return buffers ? r.evalBuffer(this.lua, keys.length, ...keys, ...args) : r.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

type Eval = (script: string, numKeys: number, ...rest: Array<string | Buffer | number>) => Promise<unknown>;

/** Key names: every key of one channel shares the hash tag `{channel}`, so one Cluster slot. */
export function channelKey(prefix: string, channel: string, kind: string): string {
  return `${prefix}:{${channel}}:${kind}`;
}
