import type { IncomingMessage } from "node:http";
import { TokenVerifier } from "../auth/jwt.js";
import { errUnauthorized } from "../errors.js";

/** What a Mercure JWT allows: topic selectors (see mercure/selectors.ts); absent: nothing. */
export interface MercureClaims {
  publish: string[];
  subscribe: string[];
}

const COOKIE = "mercureAuthorization";

/**
 * The JWT of a Mercure request: `Authorization: Bearer`, else the `mercureAuthorization`
 * cookie, else (subscribers only: an EventSource cannot set headers) the `authorization`
 * query parameter. Undefined when there is none.
 */
export function mercureToken(req: IncomingMessage, url: URL | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (bearer) return bearer[1];
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return url?.searchParams.get("authorization") ?? undefined;
}

/**
 * Verifies Mercure JWTs: with `mercureJwtSecret` (HMAC) when it is set, else with the hub's
 * token keys, so the secret that signs connection tokens signs these too. A token that fails
 * is a 401, whatever it would have allowed.
 */
export class MercureAuth {
  private readonly verifier: TokenVerifier;

  constructor(hubVerifier: TokenVerifier, mercureJwtSecret: string) {
    // A separate secret comes without the hub's issuer, audience and exp policy (symfony/mercure's
    // tokens carry none of them); the hub's own keys keep their policy.
    this.verifier = mercureJwtSecret ? new TokenVerifier(mercureJwtSecret) : hubVerifier;
  }

  async claims(token: string): Promise<MercureClaims> {
    const payload = await this.verifier.verifyMercure(token);
    const m = payload.mercure;
    if (m !== undefined && (typeof m !== "object" || m === null || Array.isArray(m)))
      throw errUnauthorized("invalid token: the mercure claim must be an object");
    const claim = (m ?? {}) as Record<string, unknown>;
    return { publish: selectorsOf(claim.publish, "publish"), subscribe: selectorsOf(claim.subscribe, "subscribe") };
  }
}

function selectorsOf(v: unknown, name: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string"))
    throw errUnauthorized(`invalid token: mercure.${name} must be a list of topic selectors`);
  return v;
}
