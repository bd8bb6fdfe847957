import type { StreamPosition } from "../gen/realtime/v1/types.js";
import type { IdempotencyStore } from "./idempotency-store.js";

/**
 * Remembers the result of an operation by key for a window, in this process. Concurrent
 * repeats share the in-flight call.
 */
export class IdempotencyCache<T> {
  private readonly entries = new Map<string, { result: Promise<T>; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Bound on remembered keys; the oldest are forgotten first past it. */
    private readonly maxKeys = 1_000_000,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(Math.max(windowMs / 4, 1000), 60_000));
    this.sweeper.unref();
  }

  /** Runs `fn` unless `key` was seen within the window; a failed call is not remembered. */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.result;
    const result = fn();
    this.entries.set(key, { result, expiresAt: this.now() + this.windowMs });
    result.catch(() => this.entries.get(key)?.result === result && this.entries.delete(key));
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    return result;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}

/** Idempotency for one node: enough when every retry reaches the node that took the first call. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly cache: IdempotencyCache<StreamPosition>;

  constructor(windowMs: number, now: () => number = Date.now) {
    this.cache = new IdempotencyCache(windowMs, now);
  }

  run(channel: string, key: string, fn: () => Promise<StreamPosition>): Promise<StreamPosition> {
    return this.cache.run(`${channel}\u0000${key}`, fn);
  }

  close(): void {
    this.cache.close();
  }
}
