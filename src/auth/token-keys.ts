import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config/config-error.js";
import type { Config } from "../config/settings.js";

/** The JWS algorithms of connection and subscription tokens; `none` is not one of them. */
const TOKEN_ALGORITHMS = [
  "HS256", "HS384", "HS512",
  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
  "ES256", "ES384", "ES512",
  "EdDSA", "Ed25519",
] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

export const HMAC_ALGORITHMS: readonly TokenAlgorithm[] = ["HS256", "HS384", "HS512"];
const RSA_ALGORITHMS: readonly TokenAlgorithm[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
/** Every algorithm of a public key; what one key may verify is narrower (algorithmsOf). */
export const PUBLIC_KEY_ALGORITHMS: readonly TokenAlgorithm[] = TOKEN_ALGORITHMS.filter((a) => !HMAC_ALGORITHMS.includes(a));

const isTokenAlgorithm = (alg: unknown): alg is TokenAlgorithm => TOKEN_ALGORITHMS.includes(alg as TokenAlgorithm);

/**
 * The algorithms a key may verify or sign, by its type (and curve). This, not the token's
 * header, decides: a token cannot make an RSA key act as an HMAC secret (the algorithm
 * confusion attack) or a P-256 key verify ES384.
 */
function algorithmsOf(key: KeyObject): readonly TokenAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return RSA_ALGORITHMS;
    // An RSASSA-PSS key is bound to PSS padding.
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec":
      switch (key.asymmetricKeyDetails?.namedCurve) {
        case "prime256v1":
          return ["ES256"];
        case "secp384r1":
          return ["ES384"];
        case "secp521r1":
          return ["ES512"];
      }
      return [];
    case "ed25519":
      return ["EdDSA", "Ed25519"];
  }
  return [];
}

const KEY_TYPES = "RSA, EC P-256/P-384/P-521 or Ed25519";

/** A public key tokens may be signed with: from tokenPublicKey or tokenPublicKeyFile. */
export interface PublicTokenKey {
  /** The JWK's `kid`; a PEM key has none and serves tokens with any `kid`. */
  readonly kid: string | undefined;
  readonly key: KeyObject;
  /** algorithmsOf(key), or the JWK's own `alg` when it names one. */
  readonly algorithms: readonly TokenAlgorithm[];
}

/** Where the hub finds the keys of its tokens; loaded once, at start. */
export interface TokenKeys {
  /** HMAC secret (HS256/384/512); "" when HMAC tokens are not accepted. */
  readonly hmacSecret: string;
  readonly publicKeys: readonly PublicTokenKey[];
  readonly jwks: { readonly url: URL; readonly cacheSeconds: number; readonly cooldownSeconds: number } | undefined;
}

type TokenKeySettings = Pick<
  Config,
  "tokenHmacSecret" | "tokenPublicKey" | "tokenPublicKeyFile" | "tokenJwksUrl" | "tokenJwksCacheSeconds" | "tokenJwksCooldownSeconds"
>;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[^-]+-----END \1-----/g;
const looksLikeKey = (text: string) => text.includes("-----BEGIN ") || /^\s*\{[\s\S]*"kty"/.test(text);

/**
 * Reads and checks the token settings. Throws a ConfigError naming the setting: a key that does
 * not parse, a private key where a public one belongs, a JWKS URL that is not http(s).
 */
export function loadTokenKeys(cfg: TokenKeySettings): TokenKeys {
  // A public key used as an HMAC secret lets anyone who has the public key sign tokens.
  if (looksLikeKey(cfg.tokenHmacSecret))
    throw new ConfigError("tokenHmacSecret: holds a PEM or JWK key; a key goes in tokenPublicKey (an HMAC secret must be a secret)");
  const publicKeys: PublicTokenKey[] = [];
  if (cfg.tokenPublicKey) publicKeys.push(...parsePublicKeys("tokenPublicKey", cfg.tokenPublicKey));
  if (cfg.tokenPublicKeyFile)
    publicKeys.push(...parsePublicKeys(`tokenPublicKeyFile ${cfg.tokenPublicKeyFile}`, readKeyFile("tokenPublicKeyFile", cfg.tokenPublicKeyFile)));
  return { hmacSecret: cfg.tokenHmacSecret, publicKeys, jwks: jwksOf(cfg) };
}

function jwksOf(cfg: TokenKeySettings): TokenKeys["jwks"] {
  if (!cfg.tokenJwksUrl) return undefined;
  let url: URL;
  try {
    url = new URL(cfg.tokenJwksUrl);
  } catch (err) {
    throw new ConfigError(`tokenJwksUrl: not a URL: ${JSON.stringify(cfg.tokenJwksUrl)}`, { cause: err });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError(`tokenJwksUrl: must be an http:// or https:// URL, got ${JSON.stringify(cfg.tokenJwksUrl)}`);
  // No cooldown would let a stream of tokens with made-up `kid`s fetch the set once each.
  if (!(cfg.tokenJwksCooldownSeconds > 0)) throw new ConfigError("tokenJwksCooldownSeconds: must be more than 0");
  if (cfg.tokenJwksCacheSeconds < cfg.tokenJwksCooldownSeconds)
    throw new ConfigError(
      `tokenJwksCacheSeconds: must be at least tokenJwksCooldownSeconds (${cfg.tokenJwksCooldownSeconds}), got ${cfg.tokenJwksCacheSeconds}`,
    );
  return { url, cacheSeconds: cfg.tokenJwksCacheSeconds, cooldownSeconds: cfg.tokenJwksCooldownSeconds };
}

/** A key file's text; `where` is the setting or flag that named it. */
export function readKeyFile(where: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${where}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** Public keys from text: one or more PEM blocks (public key or certificate), a JWK, or a JWK Set. */
function parsePublicKeys(where: string, text: string): PublicTokenKey[] {
  const out: PublicTokenKey[] = [];
  if (text.trimStart().startsWith("{")) {
    const json = parseJson(where, text);
    const jwks: unknown[] = isObject(json) && Array.isArray(json.keys) ? json.keys : [json];
    jwks.forEach((jwk, i) => out.push(publicJwk(jwks.length > 1 ? `${where}: key ${i}` : where, jwk)));
  } else {
    for (const [block, label] of text.matchAll(PEM_BLOCK)) {
      if (label!.includes("PRIVATE"))
        throw new ConfigError(`${where}: holds a private key (${label}); give the public key only (the hub never signs)`);
      const key = parse(where, () => createPublicKey(block));
      out.push({ kid: undefined, key, algorithms: supported(where, key) });
    }
  }
  if (out.length === 0) throw new ConfigError(`${where}: expected a PEM public key, a JWK or a JWK Set`);
  return out;
}

function publicJwk(where: string, jwk: unknown): PublicTokenKey {
  if (!isObject(jwk)) throw new ConfigError(`${where}: a JWK must be an object`);
  if (jwk.kty === "oct") throw new ConfigError(`${where}: a secret (oct) JWK; an HMAC secret goes in tokenHmacSecret`);
  if ("d" in jwk) throw new ConfigError(`${where}: a private JWK; give the public key only (the hub never signs)`);
  if (jwk.use !== undefined && jwk.use !== "sig") throw new ConfigError(`${where}: a JWK with "use": ${JSON.stringify(jwk.use)}, not "sig"`);
  const key = parse(where, () => createPublicKey({ key: jwk as JsonWebKey, format: "jwk" }));
  const fits = supported(where, key);
  const kid = typeof jwk.kid === "string" ? jwk.kid : undefined;
  if (jwk.alg === undefined) return { kid, key, algorithms: fits };
  if (!isTokenAlgorithm(jwk.alg) || !fits.includes(jwk.alg))
    throw new ConfigError(`${where}: its "alg" ${JSON.stringify(jwk.alg)} does not fit its key (${fits.join(", ")})`);
  return { kid, key, algorithms: [jwk.alg] };
}

/** What signs a token: an HMAC secret or a private key, with its algorithm. */
export interface SigningKey {
  readonly alg: TokenAlgorithm;
  readonly key: KeyObject | Uint8Array;
  readonly kid?: string | undefined;
}

/**
 * The key of the `token` command: a private key (PEM or JWK text; its algorithm by default
 * from the key) or, without one, the HMAC secret (HS256 by default). Throws a ConfigError for
 * an unknown algorithm, a key that does not parse, or one that does not fit the algorithm.
 */
export function signingKeyOf(opts: { alg?: string | undefined; secret?: string | undefined; privateKey?: { where: string; text: string } | undefined; kid?: string | undefined }): SigningKey {
  if (opts.alg !== undefined && !isTokenAlgorithm(opts.alg))
    throw new ConfigError(`--alg: unknown algorithm ${JSON.stringify(opts.alg)} (one of ${TOKEN_ALGORITHMS.join(", ")})`);
  const alg = opts.alg;
  if (opts.privateKey) {
    const { where, text } = opts.privateKey;
    let key: KeyObject;
    let jwkKid: string | undefined;
    let jwkAlg: unknown;
    if (text.trimStart().startsWith("{")) {
      const jwk = parseJson(where, text);
      if (!isObject(jwk) || typeof jwk.d !== "string") throw new ConfigError(`${where}: expected a private JWK (with "d")`);
      key = parse(where, () => createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" }));
      jwkKid = typeof jwk.kid === "string" ? jwk.kid : undefined;
      jwkAlg = jwk.alg;
    } else {
      if (!text.includes("PRIVATE KEY-----")) throw new ConfigError(`${where}: expected a PEM private key or a private JWK`);
      key = parse(where, () => createPrivateKey(text));
    }
    const fits = supported(where, key);
    const chosen = alg ?? (isTokenAlgorithm(jwkAlg) ? jwkAlg : fits[0]!);
    if (!fits.includes(chosen))
      throw new ConfigError(`--alg ${chosen} does not fit the key in ${where} (a ${key.asymmetricKeyType} key: ${fits.join(", ")})`);
    return { alg: chosen, key, kid: opts.kid ?? jwkKid };
  }
  if (alg !== undefined && !HMAC_ALGORITHMS.includes(alg)) throw new ConfigError(`--alg ${alg}: needs --private-key-file`);
  if (!opts.secret) throw new ConfigError("--token-hmac-secret (or REALTIME_TOKEN_HMAC_SECRET) is required, or --private-key-file");
  return { alg: alg ?? "HS256", key: new TextEncoder().encode(opts.secret), kid: opts.kid };
}

function supported(where: string, key: KeyObject): readonly TokenAlgorithm[] {
  const algs = algorithmsOf(key);
  if (algs.length === 0) throw new ConfigError(`${where}: unsupported key type ${key.asymmetricKeyType ?? key.type} (use ${KEY_TYPES})`);
  return algs;
}

/** Runs a node:crypto parse, turning its error into a ConfigError that names the setting. */
function parse(where: string, f: () => KeyObject): KeyObject {
  try {
    return f();
  } catch (err) {
    throw new ConfigError(`${where}: not a valid key (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

function parseJson(where: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${where}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
