import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { Publication, type StreamPosition } from "../gen/realtime/v1/types.js";
import { channelKey, RedisScript } from "../redis/script.js";
import { redisError } from "../redis/connection.js";
import type { HistoryOptions, HistoryStore, ReadOptions, ReadResult } from "./history-store.js";

/**
 * Appends one publication: assigns the next offset (meta hash `s`), keeps the epoch (`e`,
 * created on first use), trims the stream to `size`, refreshes the TTL of both keys, and,
 * when ARGV[5] names a pub/sub channel, publishes `<offset>:<epoch>:<envelope>` in the same
 * script, so every node sees publications in offset order.
 */
export const APPEND_LUA = `
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('hset', KEYS[2], 'e', epoch)
end
local top = redis.call('hincrby', KEYS[2], 's', 1)
redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[2], '*', 'o', top, 'd', ARGV[1])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('expire', KEYS[2], ARGV[3])
if ARGV[5] ~= '' then
  redis.call('publish', ARGV[5], top .. ':' .. epoch .. ':' .. ARGV[6])
end
return {top, epoch}
`;

/** Reads the stream top, creating the epoch of an empty stream so it can be recovered later. */
const POSITION_LUA = `
local epoch = redis.call('hget', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('hset', KEYS[1], 'e', epoch, 's', 0)
  redis.call('expire', KEYS[1], ARGV[2])
end
local top = redis.call('hget', KEYS[1], 's') or '0'
return {top, epoch}
`;

export const appendScript = new RedisScript(APPEND_LUA);
const positionScript = new RedisScript(POSITION_LUA);
const newEpoch = () => randomBytes(4).toString("hex");

/** Encodes a publication for the stream: offset and epoch live beside it, not inside. */
export function encodeStored(pub: Publication): Buffer {
  return Buffer.from(Publication.encode({ ...pub, offset: "0", epoch: "" }).finish());
}

/**
 * History in Redis Streams: key `<prefix>:{<channel>}:h` (XADD, MAXLEN size) and meta hash
 * `<prefix>:{<channel>}:m` (`s` = top offset, `e` = epoch), both expiring `ttlSeconds` after
 * the last publication.
 */
export class RedisHistoryStore implements HistoryStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  keys(channel: string): [string, string] {
    return [channelKey(this.prefix, channel, "h"), channelKey(this.prefix, channel, "m")];
  }

  async append(channel: string, pub: Publication, opts: HistoryOptions): Promise<StreamPosition> {
    const r = (await appendScript.run(this.redis, this.keys(channel), [
      encodeStored(pub),
      opts.size,
      Math.max(1, Math.ceil(opts.ttlSeconds)),
      newEpoch(),
      "",
      "",
    ])) as [number, string];
    pub.offset = String(r[0]);
    pub.epoch = r[1];
    return { offset: pub.offset, epoch: pub.epoch };
  }

  async read(channel: string, opts: ReadOptions): Promise<ReadResult> {
    const [stream, meta] = this.keys(channel);
    const pos = (await positionScript.run(this.redis, [meta], [newEpoch(), Math.max(1, opts.ttlSeconds ?? 300)])) as [string, string];
    const position = { offset: String(pos[0]), epoch: pos[1] };
    if (opts.limit <= 0) return { publications: [], position };
    const entries = await this.redis.xrangeBuffer(stream, "-", "+").catch((err: unknown) => {
      throw redisError(err);
    });
    const after = opts.since ? Number(opts.since.offset) : 0;
    let pubs: Publication[] = [];
    for (const [, fields] of entries) {
      let offset = 0;
      let data: Buffer | undefined;
      for (let i = 0; i < fields.length; i += 2) {
        const k = fields[i]!.toString();
        if (k === "o") offset = Number(fields[i + 1]!.toString());
        else if (k === "d") data = fields[i + 1];
      }
      if (!data || offset <= after) continue;
      const pub = Publication.decode(data);
      pub.offset = String(offset);
      pub.epoch = position.epoch;
      pubs.push(pub);
    }
    pubs = opts.reverse ? pubs.slice(-opts.limit).reverse() : pubs.slice(0, opts.limit);
    return { publications: pubs, position };
  }

  async remove(channel: string): Promise<void> {
    await this.redis.del(...this.keys(channel)).catch((err: unknown) => {
      throw redisError(err);
    });
  }

  async close(): Promise<void> {
    // The connection is shared and closed by its owner.
  }
}
