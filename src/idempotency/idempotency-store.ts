import { errBadRequest } from "../errors.js";
import type { StreamPosition } from "../gen/realtime/v1/types.js";

/**
 * Longest idempotency key, in UTF-8 bytes: each key is held for the whole window, so its
 * length, not only the number of keys, bounds what a publisher can make the hub keep.
 */
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

/** Throws a bad request unless `key` fits MAX_IDEMPOTENCY_KEY_BYTES; call it where keys come in. */
export function checkIdempotencyKey(key: string): void {
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_IDEMPOTENCY_KEY_BYTES)
    throw errBadRequest(`idempotencyKey is ${bytes} bytes: at most ${MAX_IDEMPOTENCY_KEY_BYTES} bytes are allowed`);
}

/**
 * Remembers the result of a publish by (channel, key) for a window, so a retried publish gets
 * the first result instead of being delivered twice.
 *
 * An implementer guarantees: within the window, `fn` runs at most once per (channel, key)
 * among the callers that share the store, and every caller gets the result of that run; a
 * failed run is forgotten, so a retry runs again.
 */
export interface IdempotencyStore {
  run(channel: string, key: string, fn: () => Promise<StreamPosition>): Promise<StreamPosition>;
  close(): void;
}
