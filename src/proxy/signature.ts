import { createHmac, timingSafeEqual } from "node:crypto";

/** Headers of a signed webhook request. */
export const TIMESTAMP_HEADER = "x-realtime-timestamp";
export const SIGNATURE_HEADER = "x-realtime-signature";

/**
 * How far a request's timestamp may be from the verifier's clock, in seconds, either way:
 * past it a captured request can no longer be replayed. Documented in docs/symfony.md; the
 * backend applies it, the hub only signs.
 */
const REPLAY_WINDOW_SECONDS = 300;

/**
 * `sha256=<hex>`: HMAC-SHA256 with the shared secret over `<timestamp>.<body>`. The timestamp
 * is inside the MAC, so a replay cannot move it; the body is the exact bytes sent.
 */
export function signature(secret: string, timestamp: number, body: Uint8Array): string {
  return "sha256=" + createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/**
 * The check a backend makes, here for tests and for JS backends: a signature from this
 * secret, over this body, made within the replay window.
 */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: Uint8Array,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > REPLAY_WINDOW_SECONDS) return false;
  const expected = Buffer.from(signature(secret, ts, body));
  const given = Buffer.from(headers.signature ?? "");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
