import { defaultConfig } from "../../src/config.js";

/** A broker client's pending bounds as the config gives them (Redis and NATS share the defaults), with some replaced. */
export function pendingBounds(over: Partial<{ maxPending: number; maxPendingBytes: number }> = {}): { maxPending: number; maxPendingBytes: number } {
  const c = defaultConfig();
  return { maxPending: c.redisMaxPending, maxPendingBytes: c.redisMaxPendingBytes, ...over };
}
