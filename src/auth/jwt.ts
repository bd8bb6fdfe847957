import { decodeProtectedHeader, jwtVerify, SignJWT, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { errBadRequest, errPermissionDenied, errTokenExpired, errUnauthorized, HubError } from "../errors.js";
import type { Config } from "../config/settings.js";
import type { Logger } from "../log.js";
import { createJwksKeys } from "./jwks.js";
import { HMAC_ALGORITHMS, loadTokenKeys, PUBLIC_KEY_ALGORITHMS, type PublicTokenKey, type SigningKey, type TokenKeys } from "./token-keys.js";

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
 * anything else about the token is unauthorized. A HubError (a JWK Set that cannot be fetched)
 * passes as it is. The jose error stays as the cause.
 */
function tokenError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof joseErrors.JWTExpired) return errTokenExpired();
  // Its message names the claim ("unexpected \"iss\" claim value", "\"nbf\" claim timestamp check failed").
  if (err instanceof joseErrors.JWTClaimValidationFailed) return errUnauthorized(`invalid token: ${err.message}`);
  if (err instanceof joseErrors.JOSEError) return errUnauthorized(`invalid token: ${err.code}`);
  return errUnauthorized("invalid token");
}

export interface TokenPolicy {
  /** Config allowAnonymous: a connection token with an empty `sub` is accepted (as anonymous). */
  allowAnonymous?: boolean;
  /** Config requireTokenExp: tokens without `exp` are refused. */
  requireTokenExp?: boolean;
  /** Config tokenIssuer: the `iss` every token must carry; "" or absent: not checked. */
  issuer?: string;
  /** Config tokenAudience: the `aud` every token must carry (or hold in its list); "" or absent: not checked. */
  audience?: string;
}

type TokenConfig = Pick<
  Config,
  | "tokenHmacSecret"
  | "tokenPublicKey"
  | "tokenPublicKeyFile"
  | "tokenJwksUrl"
  | "tokenJwksCacheSeconds"
  | "tokenJwksCooldownSeconds"
  | "tokenIssuer"
  | "tokenAudience"
  | "allowAnonymous"
  | "requireTokenExp"
>;

/**
 * Verifies connection and subscription tokens: HMAC (HS256/384/512) with the secret, RSA,
 * RSA-PSS, ECDSA and EdDSA with configured public keys or a JWK Set URL. The token's `alg`
 * picks the key, and each key verifies only the algorithms of its type, so `none`, an HS
 * token signed with a public key as its secret, or an alg the keys do not have, are refused.
 */
export class TokenVerifier {
  private readonly hmacSecret: Uint8Array<ArrayBuffer> | null;
  /** HMAC keys imported once per algorithm: verification runs on every connect. */
  private readonly hmacKeys = new Map<string, Promise<CryptoKey>>();
  private readonly publicKeys: readonly PublicTokenKey[];
  private readonly jwks: JWTVerifyGetKey | undefined;
  /** The jose options of each accepted algorithm (one algorithm each, and the iss/aud checks). */
  private readonly options = new Map<string, JWTVerifyOptions>();
  private readonly allowAnonymous: boolean;
  private readonly requireExp: boolean;

  /**
   * `keys` is the HMAC secret alone (tests, tools) or what loadTokenKeys read. Without a policy
   * an empty sub is refused (the safe side) and `exp` is optional (the config default).
   */
  constructor(keys: string | TokenKeys, policy: TokenPolicy = {}, log?: Logger) {
    const k: TokenKeys = typeof keys === "string" ? { hmacSecret: keys, publicKeys: [], jwks: undefined } : keys;
    this.hmacSecret = k.hmacSecret ? new TextEncoder().encode(k.hmacSecret) : null;
    this.publicKeys = k.publicKeys;
    this.jwks =
      k.jwks &&
      createJwksKeys(k.jwks.url, {
        cacheSeconds: k.jwks.cacheSeconds,
        cooldownSeconds: k.jwks.cooldownSeconds,
        onFetchError: (err) => log?.warn({ err, url: k.jwks?.url.href }, "token keys: the JWK Set (tokenJwksUrl) could not be fetched"),
      });
    this.allowAnonymous = policy.allowAnonymous ?? false;
    this.requireExp = policy.requireTokenExp ?? false;
    const accepted = new Set<string>(this.hmacSecret ? HMAC_ALGORITHMS : []);
    for (const key of this.publicKeys) for (const alg of key.algorithms) accepted.add(alg);
    if (this.jwks) for (const alg of PUBLIC_KEY_ALGORITHMS) accepted.add(alg);
    for (const alg of accepted)
      this.options.set(alg, {
        algorithms: [alg],
        ...(policy.issuer ? { issuer: policy.issuer } : {}),
        ...(policy.audience ? { audience: policy.audience } : {}),
      });
  }

  /** The verifier of a hub's config; throws a ConfigError for a key that cannot be read or parsed. */
  static fromConfig(cfg: TokenConfig, log?: Logger): TokenVerifier {
    const policy = { allowAnonymous: cfg.allowAnonymous, requireTokenExp: cfg.requireTokenExp, issuer: cfg.tokenIssuer, audience: cfg.tokenAudience };
    return new TokenVerifier(loadTokenKeys(cfg), policy, log);
  }

  get configured(): boolean {
    return this.options.size > 0;
  }

  async verifyConnect(token: string): Promise<ConnectClaims> {
    const payload = await this.verify(token, "connection");
    if (typeof payload.sub !== "string") throw errUnauthorized("invalid token: no sub claim");
    // The anonymous user is "": a token saying so would let in, as anonymous, a client the
    // hub turns away without a token, and that client would then pass subscription tokens
    // minted without a sub.
    if (payload.sub === "" && !this.allowAnonymous)
      throw errUnauthorized("invalid token: empty sub claim (anonymous), and anonymous connections are off (allowAnonymous)");
    // A subscription token (it names a channel) travels in SSE URLs and access logs and may
    // live longer: it must not open a connection as its user.
    if (payload.channel !== undefined) throw errUnauthorized("invalid token: a subscription token (it has a channel claim) is not a connection token");
    return { user: payload.sub, expiresAt: payload.exp ?? 0, connInfo: infoBytes(payload.info) };
  }

  async verifySubscribe(token: string, user: string, channel: string): Promise<SubscribeClaims> {
    const payload = await this.verify(token, "subscription");
    if (payload.channel !== channel) throw errPermissionDenied("subscription token is for another channel");
    if ((payload.sub ?? "") !== user) throw errPermissionDenied("subscription token is for another user");
    return { user, channel, expiresAt: payload.exp ?? 0, chanInfo: infoBytes(payload.info) };
  }

  /**
   * A verified token's claims, whatever they say: Mercure JWTs carry a `mercure` claim and no
   * `sub` (src/transport/mercure-auth.ts reads them).
   */
  verifyMercure(token: string): Promise<JWTPayload> {
    return this.verify(token, "Mercure");
  }

  private async verify(token: string, kind: "connection" | "subscription" | "Mercure") {
    if (!this.configured) throw errUnauthorized("tokens are not configured on this hub (tokenHmacSecret, tokenPublicKey, tokenJwksUrl)");
    if (typeof token !== "string" || token === "") throw errUnauthorized("token required");
    let payload: JWTPayload;
    try {
      const { alg, kid } = decodeProtectedHeader(token);
      const options = alg === undefined ? undefined : this.options.get(alg);
      // `none` is never in the map; neither is an algorithm no configured key is of.
      if (!options) throw errUnauthorized(`invalid token: alg ${JSON.stringify(alg ?? null)} is not accepted (${[...this.options.keys()].join(", ")})`);
      payload = await this.verifyWith(token, alg!, kid, options);
    } catch (err) {
      throw tokenError(err);
    }
    // Checked here rather than with jose's requiredClaims, whose error would only say
    // ERR_JWT_CLAIM_VALIDATION_FAILED.
    if (this.requireExp && payload.exp === undefined)
      throw errUnauthorized(`invalid token: ${kind} token without exp claim, and this hub requires one (requireTokenExp)`);
    return payload;
  }

  /**
   * Picks the key: the HMAC secret for HS*; else the configured public keys of that algorithm
   * (with the token's `kid` when it has one), else the JWK Set. Several candidates (keys
   * without a kid, during a rotation) are tried in turn.
   */
  private async verifyWith(token: string, alg: string, kid: string | undefined, options: JWTVerifyOptions): Promise<JWTPayload> {
    if (HMAC_ALGORITHMS.includes(alg as (typeof HMAC_ALGORITHMS)[number]))
      return (await jwtVerify(token, await this.hmacKey(alg), options)).payload;
    const fits = this.publicKeys.filter((k) => k.algorithms.includes(alg as (typeof k.algorithms)[number]));
    let candidates = kid === undefined ? fits : fits.filter((k) => k.kid === kid);
    // A kid no configured key has is the JWK Set's when there is one; else a PEM key (no kid) may serve it.
    if (candidates.length === 0 && kid !== undefined && !this.jwks) candidates = fits.filter((k) => k.kid === undefined);
    if (candidates.length === 0) {
      if (this.jwks) return (await jwtVerify(token, this.jwks, options)).payload;
      throw errUnauthorized(`invalid token: no ${alg} key${kid === undefined ? "" : ` with kid ${JSON.stringify(kid)}`} on this hub`);
    }
    for (let i = 0; ; i++) {
      try {
        return (await jwtVerify(token, candidates[i]!.key, options)).payload;
      } catch (err) {
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed) || i === candidates.length - 1) throw err;
      }
    }
  }

  private hmacKey(alg: string): Promise<CryptoKey> {
    let key = this.hmacKeys.get(alg);
    if (!key) {
      const hash = `SHA-${alg.slice(2)}`;
      key = crypto.subtle.importKey("raw", this.hmacSecret!, { name: "HMAC", hash }, false, ["verify"]);
      this.hmacKeys.set(alg, key);
    }
    return key;
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

/** What a token says: `sub` (the user), `channel` for a subscription token, `info` JSON. */
export interface TokenClaims {
  sub: string;
  channel?: string | undefined;
  info?: unknown;
}

/** Mints an HS256 token (tests, and backends written in JS). */
export async function signToken(
  secret: string,
  claims: TokenClaims,
  /** 0: no expiry; negative: already expired (tests). */
  expiresInSeconds = 3600,
): Promise<string> {
  return signTokenWith({ alg: "HS256", key: new TextEncoder().encode(secret) }, claims, { expiresInSeconds });
}

/** Mints a token with any key and algorithm (the `token` CLI command, tests). */
export async function signTokenWith(
  key: SigningKey,
  claims: TokenClaims,
  opts: {
    /** 0: no expiry; negative: already expired (tests). Default: an hour. */
    expiresInSeconds?: number;
    /** Unix seconds before which the token is not valid (`nbf`). */
    notBefore?: number;
    issuer?: string | undefined;
    audience?: string | undefined;
  } = {},
): Promise<string> {
  const jwt = new SignJWT({ ...(claims.channel ? { channel: claims.channel } : {}), ...(claims.info !== undefined ? { info: claims.info } : {}) })
    .setProtectedHeader({ alg: key.alg, typ: "JWT", ...(key.kid ? { kid: key.kid } : {}) })
    .setSubject(claims.sub)
    .setIssuedAt();
  const ttl = opts.expiresInSeconds ?? 3600;
  if (ttl !== 0) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
  if (opts.notBefore !== undefined) jwt.setNotBefore(opts.notBefore);
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(key.key);
}
