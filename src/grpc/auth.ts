import { createHash, timingSafeEqual } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { errUnauthorized, type HubError } from "../errors.js";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * When the hub has an API key, every HubService call carries `authorization: apikey <key>`
 * (health and reflection stay open: they reveal nothing a port scan would not).
 * Returns the error to answer with (UNAUTHENTICATED at the edge), or null when the call may
 * proceed. Keys are compared as SHA-256 digests with timingSafeEqual, so neither the content
 * nor the length of the configured key leaks through response timing.
 */
export function checkApiKey(metadata: Metadata, apiKey: string): HubError | null {
  if (!apiKey) return null;
  const values = metadata.get("authorization");
  if (values.length === 0) return errUnauthorized("API key required: send metadata `authorization: apikey <key>`");
  const m = /^apikey\s+(.+?)\s*$/i.exec(String(values[0]));
  if (!m) return errUnauthorized("authorization metadata must be `apikey <key>`");
  if (!timingSafeEqual(digest(m[1]!), digest(apiKey))) return errUnauthorized("wrong API key");
  return null;
}
