import { createHash, timingSafeEqual } from "node:crypto";
import { errUnauthorized, type HubError } from "../errors.js";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The one API key check of the server API, for gRPC metadata and HTTP headers alike: when the
 * hub has a key, a call carries `authorization: apikey <key>`. Returns the error to answer
 * with, or null when the call may proceed. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither the content nor the length of the configured key leaks through
 * response timing (comparing the keys themselves must return early on a length mismatch).
 */
export function apiKeyError(authorization: string | undefined, apiKey: string, where: "metadata" | "header"): HubError | null {
  if (!apiKey) return null;
  if (authorization === undefined || authorization === "")
    return errUnauthorized(`API key required: send ${where} \`authorization: apikey <key>\``);
  const m = /^apikey\s+(.+?)\s*$/i.exec(authorization);
  if (!m) return errUnauthorized(`authorization ${where} must be \`apikey <key>\``);
  if (!timingSafeEqual(digest(m[1]!), digest(apiKey))) return errUnauthorized("wrong API key");
  return null;
}
