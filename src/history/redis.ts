import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { Publication, type StreamPosition } from "../gen/realtime/v1/types.js";
import { channelKey, RedisScript } from "../redis/script.js";
import { scanChannels } from "../redis/scan-channels.js";
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
 * an empty stream so it can be recovered later. Returns {top, epoch, erased, offset, data, ...}
 * (`erased`: meta field `x`, the offsets EraseUser removed, comma-separated, or '').
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
local out = {top, epoch, redis.call('hget', KEYS[2], 'x') or ''}
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

/**
 * EraseUser in one stream: deletes the entries at offsets ARGV[2..] (XDEL keeps every other
 * id, so later offsets do not move) when the epoch is still ARGV[1] (a stream lost and started
 * again since it was read has other publications under those offsets), and records the
 * offsets deleted in meta field `x`, which reads return, so readers do not take them for a gap.
 * `x` keeps only what a reader may still need: the offsets from the run of erased offsets right
 * below the oldest entry kept upwards (below it something was trimmed: a gap anyway). An
 * offset already trimmed is not recorded: it is a gap. Leaves the TTLs as they are. Returns
 * how many entries it deleted.
 */
const ERASE_LUA = `
if redis.call('hget', KEYS[2], 'e') ~= ARGV[1] then return 0 end
local erased = {}
local x = redis.call('hget', KEYS[2], 'x')
if x then for o in string.gmatch(x, '%d+') do erased[tonumber(o)] = true end end
local n = 0
for i = 2, #ARGV do
  if redis.call('xdel', KEYS[1], ARGV[i] .. '-0') == 1 then
    n = n + 1
    erased[tonumber(ARGV[i])] = true
  end
end
local first = redis.call('xrange', KEYS[1], '-', '+', 'COUNT', 1)
local low
if #first > 0 then low = tonumber(string.match(first[1][1], '^%d+'))
else low = tonumber(redis.call('hget', KEYS[2], 's') or '0') + 1 end
while erased[low - 1] do low = low - 1 end
local keep = {}
for o in pairs(erased) do if o >= low then keep[#keep + 1] = o end end
table.sort(keep)
if #keep > 0 then redis.call('hset', KEYS[2], 'x', table.concat(keep, ','))
else redis.call('hdel', KEYS[2], 'x') end
return n
`;

export const appendScript = new RedisScript(APPEND_LUA);
const readScript = new RedisScript(READ_LUA);
const eraseScript = new RedisScript(ERASE_LUA);
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
  readonly kind = "redis";
  /** Every node reads it: the node asked erases it once. */
  readonly shared = true;

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
    ])) as [number, Buffer, Buffer, ...Array<number | Buffer>];
    const position = { offset: String(r[0]), epoch: r[1].toString() };
    const x = r[2].toString();
    const publications: Publication[] = [];
    for (let i = 3; i < r.length; i += 2) {
      const pub = Publication.decode(r[i + 1] as Buffer);
      pub.offset = String(r[i]);
      pub.epoch = position.epoch;
      publications.push(pub);
    }
    return { publications, position, ...(x ? { erased: x.split(",").map(Number) } : {}) };
  }

  /**
   * Every channel's stream (SCAN of the stream keys), read whole and decoded here, then the
   * user's offsets deleted by ERASE_LUA. A publication appended after its stream was read is
   * not erased: disconnect the user first (EraseUserRequest.disconnect) so none come.
   */
  async eraseUser(user: string): Promise<Map<string, number>> {
    const removed = new Map<string, number>();
    try {
      for await (const channel of scanChannels(this.redis, this.prefix, "h", "stream")) {
        const [stream, meta] = this.keys(channel);
        const [entries, epoch] = await Promise.all([this.redis.xrangeBuffer(stream, "-", "+"), this.redis.hget(meta, "e")]);
        if (!epoch) continue;
        const offsets: string[] = [];
        for (const [id, fields] of entries) {
          const data = fields[1];
          if (data && Publication.decode(data).info?.user === user) offsets.push(id.toString().replace(/-0$/, ""));
        }
        if (offsets.length === 0) continue;
        const n = (await eraseScript.run(this.redis, [stream, meta], [epoch, ...offsets])) as number;
        if (n > 0) removed.set(channel, n);
      }
    } catch (err) {
      throw redisError(err);
    }
    return removed;
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
