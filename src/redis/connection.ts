import { Redis } from "ioredis";
import type { Logger } from "pino";
import { HubError } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";

/**
 * An ioredis client for the hub: reconnects forever with capped backoff, and fails commands
 * at once while disconnected (no unbounded offline queue) so callers can degrade.
 */
export function createRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    // A command in flight when the connection drops fails instead of being sent again after
    // the reconnect: a resent history append would publish the same thing twice, under two
    // offsets. The caller gets a temporary error and retries (safely, with an idempotency key).
    autoResendUnfulfilledCommands: false,
    connectionName: `realtime-hub:${name}`,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
  let wasReady = false;
  redis.on("ready", () => {
    if (wasReady) log.info({ redis: name }, "redis reconnected");
    wasReady = true;
  });
  redis.on("error", (err: Error) => log.debug({ err, redis: name }, "redis connection error"));
  redis.on("close", () => wasReady && log.warn({ redis: name }, "redis connection lost; reconnecting"));
  return redis;
}

/** Connects, or throws a clear error naming the URL. */
export async function connectRedis(redis: Redis, url: string): Promise<void> {
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`redisUrl ${url}: cannot connect: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Redis failures -> ours: a connection that is down (or a command refused while offline) is a
 * temporary "unavailable", so callers retry; anything else is an internal error. The Redis
 * error stays as the cause.
 */
export function redisError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new HubError(ErrorCode.ERROR_CODE_INTERNAL, `redis unavailable: ${msg}`, true, { cause: err });
}
