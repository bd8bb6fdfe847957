import { jwtVerify, SignJWT, errors as joseErrors, type JWTPayload } from "jose";
import { errBadRequest, errPermissionDenied, errTokenExpired, errUnauthorized, HubError } from "../errors.js";

/** What a valid connection token says. */
export interface ConnectClaims {
  user: string;
  /** Unix seconds; 0 when the token does not expire. */
  expiresAt: number;
  /** JSON `info` claim, attached to the client's ClientInfo. */
  connInfo: Buffer;
}

export interface SubscribeClaims {
  user: string;
  channel: string;
  expiresAt: number;
  chanInfo: Buffer;
}

/**
 * Maps jose's errors to ours: an expired token is its own error (the client should refresh);
 * anything else about the token is unauthorized. The jose error stays as the cause.
 */
function tokenError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof joseErrors.JWTExpired) return errTokenExpired();
  if (err instanceof joseErrors.JOSEError) return errUnauthorized(`invalid token: ${err.code}`);
  return errUnauthorized("invalid token");
}

export interface TokenPolicy {
  /** Config allowAnonymous: a connection token with an empty `sub` is accepted (as anonymous). */
  allowAnonymous?: boolean;
  /** Config requireTokenExp: tokens without `exp` are refused. */
  requireTokenExp?: boolean;
}

/** Verifies HS256 connection and subscription tokens. */
export class TokenVerifier {
  private readonly key: Uint8Array | null;
  private readonly allowAnonymous: boolean;
  private readonly requireExp: boolean;

  /** Without a policy an empty sub is refused (the safe side) and `exp` is optional (the config default). */
  constructor(hmacSecret: string, policy: TokenPolicy = {}) {
    this.key = hmacSecret ? new TextEncoder().encode(hmacSecret) : null;
    this.allowAnonymous = policy.allowAnonymous ?? false;
    this.requireExp = policy.requireTokenExp ?? false;
  }

  get configured(): boolean {
    return this.key !== null;
  }

  async verifyConnect(token: string): Promise<ConnectClaims> {
    const payload = await this.verify(token, "connection");
    if (typeof payload.sub !== "string") throw errUnauthorized("invalid token: no sub claim");
    // The anonymous user is "": a token saying so would let in, as anonymous, a client the
    // hub turns away without a token, and that client would then pass subscription tokens
    // minted without a sub.
    if (payload.sub === "" && !this.allowAnonymous)
      throw errUnauthorized("invalid token: empty sub claim (anonymous), and anonymous connections are off (allowAnonymous)");
    return { user: payload.sub, expiresAt: payload.exp ?? 0, connInfo: infoBytes(payload.info) };
  }

  async verifySubscribe(token: string, user: string, channel: string): Promise<SubscribeClaims> {
    const payload = await this.verify(token, "subscription");
    if (payload.channel !== channel) throw errPermissionDenied("subscription token is for another channel");
    if ((payload.sub ?? "") !== user) throw errPermissionDenied("subscription token is for another user");
    return { user, channel, expiresAt: payload.exp ?? 0, chanInfo: infoBytes(payload.info) };
  }

  private async verify(token: string, kind: "connection" | "subscription") {
    if (!this.key) throw errUnauthorized("tokens are not configured on this hub (tokenHmacSecret)");
    if (typeof token !== "string" || token === "") throw errUnauthorized("token required");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"] }));
    } catch (err) {
      throw tokenError(err);
    }
    // Checked here rather than with jose's requiredClaims, whose error would only say
    // ERR_JWT_CLAIM_VALIDATION_FAILED.
    if (this.requireExp && payload.exp === undefined)
      throw errUnauthorized(`invalid token: ${kind} token without exp claim, and this hub requires one (requireTokenExp)`);
    return payload;
  }
}

function infoBytes(info: unknown): Buffer {
  if (info === undefined) return Buffer.alloc(0);
  try {
    return Buffer.from(JSON.stringify(info), "utf8");
  } catch {
    throw errBadRequest("invalid info claim");
  }
}

/** Mints a token (the `token` CLI command, tests, and backends written in JS). */
export async function signToken(
  secret: string,
  claims: { sub: string; channel?: string | undefined; info?: unknown },
  /** 0: no expiry; negative: already expired (tests). */
  expiresInSeconds = 3600,
): Promise<string> {
  const jwt = new SignJWT({ ...(claims.channel ? { channel: claims.channel } : {}), ...(claims.info !== undefined ? { info: claims.info } : {}) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt();
  if (expiresInSeconds !== 0) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds);
  return jwt.sign(new TextEncoder().encode(secret));
}
