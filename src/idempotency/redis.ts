import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { HubError } from "../errors.js";
import { ErrorCode, type StreamPosition } from "../gen/realtime/v1/types.js";
import { channelKey, RedisScript } from "../redis/script.js";
import type { IdempotencyStore } from "./idempotency-store.js";
import { IdempotencyCache } from "./memory.js";

/**
 * The stored value, or, when there is none, a claim for this caller (and false). A claim that
 * is already this caller's (a command resent after a reconnect) stays this caller's.
 */
const CLAIM = new RedisScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return false end
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`);

/**
 * Ends a claim: stores the result for the window (ARGV[2] non-empty) or forgets the key so a
 * retry runs again. Only while the key is still ours or has lapsed: a lapsed claim may have
 * been taken by another node since, whose claim must stand.
 */
const SETTLE = new RedisScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`);

export interface RedisIdempotencyOptions {
  windowMs: number;
  /** How long a claim holds while its publish runs; a node that dies mid-publish blocks retries this long. */
  claimMs?: number;
  /** How long a repeat waits for another node's run to finish before answering "retry". */
  waitMs?: number;
  pollMs?: number;
  log?: Logger;
}

const encode = (p: StreamPosition) => `r:${p.offset}:${p.epoch}`;
function decode(v: string): StreamPosition {
  const i = v.indexOf(":", 2);
  return { offset: v.slice(2, i), epoch: v.slice(i + 1) };
}

/**
 * Idempotency shared by every node that uses the same Redis: a retry that a load balancer
 * sends to another node still gets the first result. The key lives next to its channel's
 * other keys (same hash tag). Repeats on one node share the call in process first, so only
 * the first of them asks Redis.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly local: IdempotencyCache<StreamPosition>;
  private readonly windowMs: number;
  private readonly claimMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly log: Logger | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    opts: RedisIdempotencyOptions,
  ) {
    this.windowMs = opts.windowMs;
    this.claimMs = opts.claimMs ?? 30_000;
    this.waitMs = opts.waitMs ?? 5_000;
    this.pollMs = opts.pollMs ?? 50;
    this.log = opts.log;
    this.local = new IdempotencyCache(this.windowMs);
  }

  run(channel: string, key: string, fn: () => Promise<StreamPosition>): Promise<StreamPosition> {
    return this.local.run(`${channel}\u0000${key}`, () => this.claimAndRun(channel, key, fn));
  }

  close(): void {
    this.local.close();
  }

  /**
   * ioredis has no command timeout: against a server that is connected but stalled, a claim
   * would wait for ever. Past `waitMs` the publish fails with a temporary error instead (a
   * claim the server takes later lapses by itself).
   */
  private answered<T>(command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HubError(ErrorCode.ERROR_CODE_INTERNAL, `redis unavailable: no answer within ${this.waitMs} ms`, true)),
        this.waitMs,
      );
    });
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
  }

  private async claimAndRun(channel: string, key: string, fn: () => Promise<StreamPosition>): Promise<StreamPosition> {
    const k = channelKey(this.prefix, channel, `i:${key}`);
    const giveUpAt = Date.now() + this.waitMs;
    const token = `p:${randomUUID()}`;
    for (;;) {
      const v = (await this.answered(CLAIM.run(this.redis, [k], [token, this.claimMs]))) as string | null;
      if (v === null) {
        let result: StreamPosition;
        try {
          result = await fn();
        } catch (err) {
          await this.answered(SETTLE.run(this.redis, [k], [token, "", 0])).catch(() => undefined);
          throw err;
        }
        // The publish happened: its result stands even if Redis cannot keep it now (then the
        // claim lapses, and only a retry after that would be delivered again).
        const kept = await this.answered(SETTLE.run(this.redis, [k], [token, encode(result), this.windowMs])).catch(() => null);
        // 0: the claim lapsed while the publish ran and another node has taken the key since,
        // so a repeat was (or will be) published twice. Rare; worth knowing when it happens.
        if (kept === 0) this.log?.warn({ channel, claimMs: this.claimMs }, "idempotent publish outlasted its claim: a repeat may be published twice");
        return result;
      }
      if (v.startsWith("r:")) return decode(v);
      if (Date.now() >= giveUpAt)
        throw new HubError(
          ErrorCode.ERROR_CODE_INTERNAL,
          `a publish with this idempotency key is still running, or the node that claimed it failed (its claim lapses within ${Math.ceil(this.claimMs / 1000)} s); retry`,
          true,
        );
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}
