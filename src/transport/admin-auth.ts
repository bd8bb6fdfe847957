import { createHash, timingSafeEqual } from "node:crypto";
import { apiKeyError } from "../api/api-key.js";
import { errPermissionDenied, errUnauthorized, type HubError } from "../errors.js";

/**
 * The HTTP API methods (route keys: lower case, no `_`) the admin page calls, and so the only
 * ones its admin token opens: reading the cluster and one channel, and the admin actions.
 * Broadcast and EraseUser stay with the API key.
 */
export const ADMIN_METHODS: ReadonlySet<string> = new Set([
  "info",
  "channels",
  "presence",
  "presencestats",
  "history",
  "subscribe",
  "publish",
  "disconnect",
  "unsubscribe",
  "historyremove",
]);

/** What the HTTP API accepts besides the API key. */
export interface AdminAuth {
  /** config.admin: the page is served and its token accepted. */
  admin: boolean;
  /** config.adminToken: empty when the page signs in with the API key only. */
  adminToken: string;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The one check of an HTTP API call: `authorization: apikey <key>` as on gRPC (api/api-key.ts),
 * or, with the admin page on and an admin token set, `authorization: admin <token>` for the
 * methods of ADMIN_METHODS. Returns the error to answer with, or null when the call may
 * proceed. Tokens are compared as digests, like keys, so their length does not leak.
 */
export function apiAuthError(authorization: string | undefined, method: string, apiKey: string, admin: AdminAuth): HubError | null {
  const m = /^admin\s+(.+?)\s*$/i.exec(authorization ?? "");
  if (!m || !admin.admin || !admin.adminToken) return apiKeyError(authorization, apiKey, "header");
  if (!timingSafeEqual(digest(m[1]!), digest(admin.adminToken))) return errUnauthorized("wrong admin token");
  if (!ADMIN_METHODS.has(method)) return errPermissionDenied(`the admin token may call ${[...ADMIN_METHODS].join(", ")}; ${method} needs the API key`);
  return null;
}
