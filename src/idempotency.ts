import { errBadRequest } from "./errors.js";

/**
 * Longest idempotency key, in UTF-8 bytes: each key is held in memory for the whole window,
 * so its length, not only the number of keys, bounds what a publisher can make the node keep.
 */
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

/** Throws a bad request unless `key` fits MAX_IDEMPOTENCY_KEY_BYTES; call it where keys come in. */
export function checkIdempotencyKey(key: string): void {
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_IDEMPOTENCY_KEY_BYTES)
    throw errBadRequest(`idempotencyKey is ${bytes} bytes: at most ${MAX_IDEMPOTENCY_KEY_BYTES} bytes are allowed`);
}

/**
 * Remembers the result of an operation by key for a window, so a retried publish gets the
 * first result instead of being delivered twice. Concurrent repeats share the in-flight call.
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
