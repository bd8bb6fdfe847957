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
 * script, so every node sees publications in offset order. The stream id is `<offset>-0`,
 * so a read starts at an offset (XRANGE) instead of scanning the stream.
 */
const APPEND_LUA = `
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[4]
  -- Offsets restart at 1: entries of a lost epoch must not be served under the new one (and
  -- XADD would refuse ids below theirs).
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'e', epoch)
end
local top = redis.call('hincrby', KEYS[2], 's', 1)
redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[2], top .. '-0', 'd', ARGV[1])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('expire', KEYS[2], ARGV[3])
if ARGV[5] ~= '' then
  redis.call('publish', ARGV[5], top .. ':' .. epoch .. ':' .. ARGV[6])
end
return {top, epoch}
`;

/**
 * Reads the stream top and the publications after offset ARGV[3] (at most ARGV[4], newest
 * first when ARGV[5] is '1') in one script: read in two round trips, a publication landing in
 * between would come back above the returned top and be delivered twice. Creates the epoch of
 * an empty stream so it can be recovered later. Returns {top, epoch, offset, data, ...}.
 */
const READ_LUA = `
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
  redis.call('expire', KEYS[2], ARGV[2])
end
local top = tonumber(redis.call('hget', KEYS[2], 's') or '0')
local out = {top, epoch}
local from = tonumber(ARGV[3]) + 1
local limit = tonumber(ARGV[4])
if limit <= 0 or from > top then return out end
local entries
if ARGV[5] == '1' then
  entries = redis.call('xrevrange', KEYS[1], '+', from .. '-0', 'COUNT', limit)
else
  entries = redis.call('xrange', KEYS[1], from .. '-0', '+', 'COUNT', limit)
end
for i = 1, #entries do
  out[#out + 1] = tonumber(string.match(entries[i][1], '^%d+'))
  out[#out + 1] = entries[i][2][2]
end
return out
`;

export const appendScript = new RedisScript(APPEND_LUA);
const readScript = new RedisScript(READ_LUA);
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
    const after = Math.max(0, Math.floor(Number(opts.since?.offset ?? 0)) || 0);
    const r = (await readScript.runBuffer(this.redis, this.keys(channel), [
      newEpoch(),
      Math.max(1, Math.ceil(opts.ttlSeconds ?? 300)),
      after,
      Math.max(0, Math.floor(opts.limit)),
      opts.reverse ? "1" : "0",
    ])) as [number, Buffer, ...Array<number | Buffer>];
    const position = { offset: String(r[0]), epoch: r[1].toString() };
    const publications: Publication[] = [];
    for (let i = 2; i < r.length; i += 2) {
      const pub = Publication.decode(r[i + 1] as Buffer);
      pub.offset = String(r[i]);
      pub.epoch = position.epoch;
      publications.push(pub);
    }
    return { publications, position };
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
