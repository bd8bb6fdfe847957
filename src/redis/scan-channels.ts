import type { Redis } from "ioredis";

/** SCAN MATCH treats these as glob syntax; a prefix holding them must match itself. */
const escapeGlob = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");

/**
 * The channels that have a `kind` key of type `type` (see channelKey): a SCAN of
 * `<prefix>:{*}:<kind>`, so it walks the keyspace in steps without blocking the server.
 * Keys of other kinds that happen to match (an idempotency key ending in `}:<kind>`) name no
 * valid channel, which has no braces, and are skipped. A channel may be yielded twice (SCAN
 * may repeat keys); callers must be idempotent.
 */
export async function* scanChannels(redis: Redis, prefix: string, kind: string, type: string): AsyncGenerator<string> {
  const head = `${prefix}:{`;
  const tail = `}:${kind}`;
  const match = `${escapeGlob(head)}*${escapeGlob(tail)}`;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000, "TYPE", type);
    cursor = next;
    for (const key of keys) {
      const channel = key.slice(head.length, key.length - tail.length);
      if (key.startsWith(head) && key.endsWith(tail) && channel && !/[{}]/.test(channel)) yield channel;
    }
  } while (cursor !== "0");
}
