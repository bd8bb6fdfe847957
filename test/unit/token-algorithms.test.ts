import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signTokenWith, TokenVerifier } from "../../src/auth/jwt.js";
import type { SigningKey } from "../../src/auth/token-keys.js";
import { ConfigError, loadConfig, type Config } from "../../src/config.js";
import { HubError } from "../../src/errors.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { publicJwk, startJwksServer, testKeys } from "../helpers/token-keys.js";

const keys = testKeys();
const other = testKeys();
const secret = "a-long-enough-hmac-secret";
const hmac = new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

/** A hub's verifier, built the way the hub builds it: from the config, through its checks. */
const verifierOf = (overrides: Partial<Config>) => TokenVerifier.fromConfig(loadConfig({ overrides: { dev: true, logLevel: "silent", ...overrides } }));

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

async function outcome(p: Promise<{ user: string }>): Promise<string> {
  try {
    return `ok ${(await p).user}`;
  } catch (e) {
    if (!(e instanceof HubError)) throw e;
    return `${ErrorCode[e.code]}: ${e.message}`;
  }
}

describe("token algorithms and keys: every case", () => {
  // Every key at once: the HMAC secret, and the public keys as PEM text (RSA, P-256, P-384, Ed25519).
  const all = () =>
    verifierOf({
      tokenHmacSecret: secret,
      tokenPublicKey: [keys.rsa, keys.p256, keys.p384, keys.ed25519].map((k) => k.publicPem).join("\n"),
    });
  const strict = () => verifierOf({ tokenHmacSecret: secret, tokenPublicKey: keys.p256.publicPem, tokenIssuer: "https://app.example", tokenAudience: "realtime" });
  const sign = (key: SigningKey, opts: Parameters<typeof signTokenWith>[2] = {}, claims = { sub: "42" }) => signTokenWith(key, claims, opts);
  const rs = (alg: SigningKey["alg"]): SigningKey => ({ alg, key: keys.rsa.privateKey });

  const cases: [string, () => TokenVerifier, () => Promise<string>, RegExp | string][] = [
    ["HS256", all, () => sign({ alg: "HS256", key: hmac }), "ok 42"],
    ["HS384", all, () => sign({ alg: "HS384", key: hmac }), "ok 42"],
    ["HS512", all, () => sign({ alg: "HS512", key: hmac }), "ok 42"],
    ["RS256", all, () => sign(rs("RS256")), "ok 42"],
    ["RS384", all, () => sign(rs("RS384")), "ok 42"],
    ["RS512", all, () => sign(rs("RS512")), "ok 42"],
    ["PS256", all, () => sign(rs("PS256")), "ok 42"],
    ["ES256", all, () => sign({ alg: "ES256", key: keys.p256.privateKey }), "ok 42"],
    ["ES384", all, () => sign({ alg: "ES384", key: keys.p384.privateKey }), "ok 42"],
    ["EdDSA", all, () => sign({ alg: "EdDSA", key: keys.ed25519.privateKey }), "ok 42"],
    ["Ed25519 (the fully specified name of EdDSA)", all, () => sign({ alg: "Ed25519", key: keys.ed25519.privateKey }), "ok 42"],
    ["a PEM key serves a token with a kid", all, () => sign({ alg: "ES256", key: keys.p256.privateKey, kid: "any" }), "ok 42"],
    ["expired", all, () => sign(rs("RS256"), { expiresInSeconds: -10 }), "ERROR_CODE_TOKEN_EXPIRED: token expired"],
    ["not yet valid (nbf)", all, () => sign({ alg: "ES256", key: keys.p256.privateKey }, { notBefore: now() + 600 }), /^ERROR_CODE_UNAUTHORIZED: invalid token: "nbf" claim timestamp check failed$/],
    ["wrong signature: another RSA key", all, () => sign({ alg: "RS256", key: other.rsa.privateKey }), "ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    ["wrong signature: another HMAC secret", all, () => sign({ alg: "HS256", key: new TextEncoder().encode("guess") }), "ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    [
      "wrong signature: payload changed after signing",
      all,
      async () => {
        const [h, , s] = (await sign({ alg: "EdDSA", key: keys.ed25519.privateKey })).split(".");
        return `${h}.${b64({ sub: "admin" })}.${s}`;
      },
      "ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    ],
    ["alg none", all, async () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "42" })}.`, /^ERROR_CODE_UNAUTHORIZED: invalid token: alg "none" is not accepted \(HS256, HS384, HS512, RS256/],
    ["no alg", all, async () => `${b64({ typ: "JWT" })}.${b64({ sub: "42" })}.x`, /^ERROR_CODE_UNAUTHORIZED: invalid token: alg null is not accepted/],
    [
      // The classic confusion: HS256 "signed" with the RSA public key PEM, which anyone has.
      "algorithm confusion, public keys only: HS256 with the public PEM as secret",
      () => verifierOf({ tokenPublicKey: keys.rsa.publicPem }),
      () => sign({ alg: "HS256", key: new TextEncoder().encode(keys.rsa.publicPem) }),
      'ERROR_CODE_UNAUTHORIZED: invalid token: alg "HS256" is not accepted (RS256, RS384, RS512, PS256, PS384, PS512)',
    ],
    [
      "algorithm confusion, HMAC secret also set: the public PEM is not the secret",
      all,
      () => sign({ alg: "HS256", key: new TextEncoder().encode(keys.rsa.publicPem) }),
      "ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    ],
    ["an alg no configured key is of (ES512)", all, () => sign({ alg: "ES512", key: generateKeyPairSync("ec", { namedCurve: "P-521" }).privateKey }), /^ERROR_CODE_UNAUTHORIZED: invalid token: alg "ES512" is not accepted/],
    ["a P-256 key does not verify ES384", () => verifierOf({ tokenPublicKey: keys.p256.publicPem }), () => sign({ alg: "ES384", key: keys.p384.privateKey }), 'ERROR_CODE_UNAUTHORIZED: invalid token: alg "ES384" is not accepted (ES256)'],
    ["iss and aud right", strict, () => sign({ alg: "ES256", key: keys.p256.privateKey }, { issuer: "https://app.example", audience: "realtime" }), "ok 42"],
    ["aud in a list", strict, () => new SignJWT({ sub: "42", iss: "https://app.example", aud: ["other", "realtime"] }).setProtectedHeader({ alg: "HS512" }).sign(hmac), "ok 42"],
    ["wrong aud", strict, () => sign({ alg: "ES256", key: keys.p256.privateKey }, { issuer: "https://app.example", audience: "billing" }), 'ERROR_CODE_UNAUTHORIZED: invalid token: unexpected "aud" claim value'],
    ["wrong iss", strict, () => sign({ alg: "HS256", key: hmac }, { issuer: "https://evil.example", audience: "realtime" }), 'ERROR_CODE_UNAUTHORIZED: invalid token: unexpected "iss" claim value'],
    ["no iss", strict, () => sign({ alg: "HS256", key: hmac }, { audience: "realtime" }), 'ERROR_CODE_UNAUTHORIZED: invalid token: missing required "iss" claim'],
    ["no aud", strict, () => sign({ alg: "HS256", key: hmac }, { issuer: "https://app.example" }), 'ERROR_CODE_UNAUTHORIZED: invalid token: missing required "aud" claim'],
  ];

  it.each(cases)("connection token: %s", async (_name, verifier, token, expected) => {
    const got = await outcome(verifier().verifyConnect(await token()));
    if (typeof expected === "string") expect(got).toBe(expected);
    else expect(got).toMatch(expected);
  });

  const subscription = (claims: { sub: string; channel: string }) => signTokenWith({ alg: "PS256", key: keys.rsa.privateKey }, claims);
  it.each([
    ["right channel and user", { sub: "42", channel: "private:a" }, "ok 42"],
    ["wrong channel", { sub: "42", channel: "private:b" }, "ERROR_CODE_PERMISSION_DENIED: subscription token is for another channel"],
    ["wrong user", { sub: "43", channel: "private:a" }, "ERROR_CODE_PERMISSION_DENIED: subscription token is for another user"],
  ])("subscription token (PS256): %s", async (_name, claims, expected) => {
    expect(await outcome(all().verifySubscribe(await subscription(claims), "42", "private:a"))).toBe(expected);
  });

  it("a JWK Set as tokenPublicKey: the token's kid picks the key, an unknown kid is refused", async () => {
    const v = verifierOf({ tokenPublicKey: JSON.stringify({ keys: [publicJwk(keys.p256, "a"), publicJwk(other.p256, "b")] }) });
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "ES256", key: keys.p256.privateKey, kid: "a" }, { sub: "1" })))).toBe("ok 1");
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "ES256", key: other.p256.privateKey, kid: "b" }, { sub: "2" })))).toBe("ok 2");
    // Signed by b's key but naming a: a alone is tried.
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "ES256", key: other.p256.privateKey, kid: "a" }, { sub: "3" })))).toBe(
      "ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    );
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "ES256", key: keys.p256.privateKey, kid: "c" }, { sub: "4" })))).toBe(
      'ERROR_CODE_UNAUTHORIZED: invalid token: no ES256 key with kid "c" on this hub',
    );
    // Without a kid each key of the algorithm is tried (a rotation where tokens carry none).
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "ES256", key: other.p256.privateKey }, { sub: "5" })))).toBe("ok 5");
  });

  it("a JWK naming its alg verifies that alg only", async () => {
    const v = verifierOf({ tokenPublicKey: JSON.stringify({ ...publicJwk(keys.rsa, "r"), alg: "PS256" }) });
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "PS256", key: keys.rsa.privateKey, kid: "r" }, { sub: "1" })))).toBe("ok 1");
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "RS256", key: keys.rsa.privateKey, kid: "r" }, { sub: "1" })))).toBe(
      'ERROR_CODE_UNAUTHORIZED: invalid token: alg "RS256" is not accepted (PS256)',
    );
  });

  it("reads tokenPublicKeyFile, adding to tokenPublicKey", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rh-keys-"));
    const file = join(dir, "ed25519.pem");
    writeFileSync(file, keys.ed25519.publicPem);
    const v = verifierOf({ tokenPublicKey: keys.rsa.publicPem, tokenPublicKeyFile: file });
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "EdDSA", key: keys.ed25519.privateKey }, { sub: "1" })))).toBe("ok 1");
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "RS512", key: keys.rsa.privateKey }, { sub: "2" })))).toBe("ok 2");
  });

  it("with no key at all, tokens are not configured", async () => {
    const v = verifierOf({});
    expect(v.configured).toBe(false);
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "HS256", key: hmac }, { sub: "1" })))).toMatch(/tokens are not configured/);
    expect(verifierOf({ tokenJwksUrl: "http://127.0.0.1:1/jwks" }).configured).toBe(true);
  });
});

describe("token settings: bad values stop the start with the setting named", () => {
  const rsaPrivateJwk = keys.rsa.privateKey.export({ format: "jwk" });
  it.each<[string, Partial<Config>, RegExp]>([
    ["PEM that does not parse", { tokenPublicKey: "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----" }, /^tokenPublicKey: not a valid key \(/],
    ["neither PEM nor JSON", { tokenPublicKey: "hello" }, /^tokenPublicKey: expected a PEM public key, a JWK or a JWK Set$/],
    ["JSON that does not parse", { tokenPublicKey: "{kty" }, /^tokenPublicKey: not valid JSON/],
    ["a private PEM key", { tokenPublicKey: keys.rsa.privatePem }, /^tokenPublicKey: holds a private key \(PRIVATE KEY\); give the public key only/],
    ["a private JWK", { tokenPublicKey: JSON.stringify(rsaPrivateJwk) }, /^tokenPublicKey: a private JWK/],
    ["a secret JWK", { tokenPublicKey: JSON.stringify({ kty: "oct", k: "c2VjcmV0" }) }, /^tokenPublicKey: a secret \(oct\) JWK; an HMAC secret goes in tokenHmacSecret$/],
    ["a JWK whose alg does not fit it", { tokenPublicKey: JSON.stringify({ ...publicJwk(keys.p256, "x"), alg: "RS256" }) }, /^tokenPublicKey: its "alg" "RS256" does not fit its key \(ES256\)$/],
    ["an encryption JWK", { tokenPublicKey: JSON.stringify({ ...publicJwk(keys.p256, "x"), use: "enc" }) }, /^tokenPublicKey: a JWK with "use": "enc"/],
    ["a key file that is not there", { tokenPublicKeyFile: "/nonexistent/key.pem" }, /^tokenPublicKeyFile: cannot read \/nonexistent\/key.pem: ENOENT$/],
    ["a public key as the HMAC secret", { tokenHmacSecret: keys.rsa.publicPem }, /^tokenHmacSecret: holds a PEM or JWK key; a key goes in tokenPublicKey/],
    ["a JWKS URL that is not http(s)", { tokenJwksUrl: "file:///etc/jwks.json" }, /^tokenJwksUrl: must be an http:\/\/ or https:\/\/ URL, got "file:\/\/\/etc\/jwks.json"$/],
    ["a JWKS URL that is no URL", { tokenJwksUrl: "jwks.example" }, /^tokenJwksUrl: not a URL: "jwks.example"$/],
    ["no JWKS cooldown", { tokenJwksUrl: "https://a.example/jwks", tokenJwksCooldownSeconds: 0 }, /^tokenJwksCooldownSeconds: must be more than 0$/],
    ["a JWKS cache shorter than the cooldown", { tokenJwksUrl: "https://a.example/jwks", tokenJwksCacheSeconds: 5 }, /^tokenJwksCacheSeconds: must be at least tokenJwksCooldownSeconds \(30\), got 5$/],
  ])("%s", (_name, overrides, message) => {
    let err: unknown;
    try {
      // As startHub does before anything starts (the config loader checks the settings alone).
      TokenVerifier.fromConfig(loadConfig({ overrides: { dev: true, ...overrides } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it("also from the env, as `serve` reads it", () => {
    expect(() => TokenVerifier.fromConfig(loadConfig({ env: { REALTIME_TOKEN_PUBLIC_KEY: "nope" }, overrides: { dev: true } }))).toThrow(/^tokenPublicKey: expected a PEM/);
  });
});

describe("tokens from a JWK Set URL (a local HTTP server)", () => {
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  beforeAll(async () => {
    jwks = await startJwksServer([publicJwk(keys.p256, "k1")]);
  });
  afterAll(() => jwks.close());

  // Long enough that a loaded machine does all the "within the cooldown" steps inside it.
  const COOLDOWN = 2;
  const token = (kid: string, key = keys.p256.privateKey, sub = "42") => signTokenWith({ alg: "ES256", key, kid }, { sub });

  it("fetches the set once, follows a key rotation after the cooldown, and bounds refetches on unknown kids", async () => {
    jwks.state.keys = [publicJwk(keys.p256, "k1")];
    jwks.state.failing = false;
    jwks.state.requests = 0;
    // Signed beforehand, so that the steps timed against the cooldown only verify.
    const madeUp = await Promise.all(Array.from({ length: 20 }, (_, i) => token(`made-up-${i}`)));
    const again = await Promise.all(Array.from({ length: 10 }, (_, i) => token(`again-${i}`)));
    const k1 = await token("k1");
    const k2 = await token("k2", other.p256.privateKey);
    const v = verifierOf({ tokenJwksUrl: jwks.url, tokenJwksCooldownSeconds: COOLDOWN, tokenJwksCacheSeconds: 600 });
    expect(jwks.state.requests).toBe(0); // nothing is fetched before the first token
    expect(await outcome(v.verifyConnect(k1))).toBe("ok 42");
    expect(await outcome(v.verifyConnect(k1))).toBe("ok 42");
    expect(jwks.state.requests).toBe(1);

    // The issuer rotates: k2 replaces k1.
    jwks.state.keys = [publicJwk(other.p256, "k2")];
    // Within the cooldown of the last fetch, a new kid is refused without a fetch, however many come.
    const burst = await Promise.all(madeUp.map((t) => outcome(v.verifyConnect(t))));
    expect(new Set(burst)).toEqual(new Set(["ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWKS_NO_MATCHING_KEY"]));
    expect(await outcome(v.verifyConnect(k2))).toBe("ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWKS_NO_MATCHING_KEY");
    expect(jwks.state.requests).toBe(1);

    await new Promise((r) => setTimeout(r, COOLDOWN * 1000 + 100));
    // Past it, the unknown kid fetches the set again (once, for concurrent tokens) and is found.
    const after = await Promise.all([outcome(v.verifyConnect(k2)), outcome(v.verifyConnect(k2)), outcome(v.verifyConnect(k2))]);
    expect(after).toEqual(["ok 42", "ok 42", "ok 42"]);
    expect(jwks.state.requests).toBe(2);
    // k1 has left the set: its tokens are refused now, still without another fetch.
    expect(await outcome(v.verifyConnect(k1))).toBe("ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWKS_NO_MATCHING_KEY");
    for (const t of again) await outcome(v.verifyConnect(t));
    expect(jwks.state.requests).toBe(2);
  });

  it("a set that cannot be fetched is a temporary error, and a failing URL is not asked again within the cooldown", async () => {
    jwks.state.keys = [publicJwk(keys.p256, "k1")];
    jwks.state.failing = true;
    jwks.state.requests = 0;
    const k1 = await token("k1");
    const v = verifierOf({ tokenJwksUrl: jwks.url, tokenJwksCooldownSeconds: COOLDOWN, tokenJwksCacheSeconds: 600 });
    let err: unknown;
    try {
      await v.verifyConnect(k1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).toWire()).toEqual({
      code: ErrorCode.ERROR_CODE_NOT_AVAILABLE,
      message: "token keys unavailable: the JWK Set could not be fetched; try again",
      temporary: true,
    });
    for (let i = 0; i < 10; i++) expect(await outcome(v.verifyConnect(k1))).toMatch(/^ERROR_CODE_NOT_AVAILABLE/);
    expect(jwks.state.requests).toBe(1);
    // It answers again: after the cooldown the next token fetches it.
    jwks.state.failing = false;
    await new Promise((r) => setTimeout(r, COOLDOWN * 1000 + 100));
    expect(await outcome(v.verifyConnect(k1))).toBe("ok 42");
    expect(jwks.state.requests).toBe(2);
  });

  it("HMAC secret and JWK Set together: the alg picks the key", async () => {
    jwks.state.keys = [publicJwk(keys.p256, "k1")];
    jwks.state.failing = false;
    const v = verifierOf({ tokenHmacSecret: secret, tokenJwksUrl: jwks.url, tokenJwksCooldownSeconds: COOLDOWN });
    expect(await outcome(v.verifyConnect(await signTokenWith({ alg: "HS384", key: hmac }, { sub: "h" })))).toBe("ok h");
    expect(await outcome(v.verifyConnect(await token("k1", keys.p256.privateKey, "e")))).toBe("ok e");
    // An HS token whose "secret" is a key of the set is an HS token: the HMAC secret decides.
    const confused = await signTokenWith({ alg: "HS256", key: new TextEncoder().encode(JSON.stringify(publicJwk(keys.p256, "k1"))), kid: "k1" }, { sub: "x" });
    expect(await outcome(v.verifyConnect(confused))).toBe("ERROR_CODE_UNAUTHORIZED: invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
  });
});
