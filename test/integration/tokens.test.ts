import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeProtectedHeader } from "jose";
import { signTokenWith, TokenVerifier } from "../../src/auth/jwt.js";
import { defaultNamespace, loadConfig } from "../../src/config.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { publicJwk, startJwksServer, testKeys } from "../helpers/token-keys.js";
import { TestWsClient } from "../helpers/ws-client.js";

const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));
const keys = testKeys();
const dir = mkdtempSync(join(tmpdir(), "rh-token-cli-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const files = {
  rsa: file("rsa.pem", keys.rsa.privatePem),
  // SEC1 ("EC PRIVATE KEY"), as `openssl ecparam -genkey` writes it.
  p256: file("p256.pem", keys.p256.privateKey.export({ type: "sec1", format: "pem" }).toString()),
  p384Jwk: file("p384.json", JSON.stringify({ ...keys.p384.privateKey.export({ format: "jwk" }), kid: "jwk-kid", alg: "ES384" })),
  ed25519: file("ed25519.pem", keys.ed25519.privatePem),
  publicPem: file("public.pem", keys.rsa.publicPem),
  publicJwk: file("public.json", JSON.stringify(publicJwk(keys.p256, "x"))),
  garbage: file("garbage.pem", "not a key"),
  badJson: file("bad.json", "{oops"),
};

/** `realtime-hub token ...` with only PATH and the given env. */
const token = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [MAIN, "token", ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });

describe("realtime-hub token: mints every kind, and the hub's verifier accepts each", () => {
  const secret = "cli-secret";
  const env = { REALTIME_TOKEN_HMAC_SECRET: secret, REALTIME_TOKEN_ISSUER: "https://app.example", REALTIME_TOKEN_AUDIENCE: "realtime" };
  const verifier = TokenVerifier.fromConfig(
    loadConfig({
      overrides: {
        dev: true,
        tokenHmacSecret: secret,
        tokenPublicKey: [keys.rsa, keys.p256, keys.ed25519].map((k) => k.publicPem).join(""),
        tokenIssuer: "https://app.example",
        tokenAudience: "realtime",
      },
    }),
  );
  // The P-384 key comes as a JWK Set, kid and all, as a JWKS endpoint would publish it.
  const jwkVerifier = TokenVerifier.fromConfig(
    loadConfig({ overrides: { dev: true, tokenPublicKey: JSON.stringify({ keys: [publicJwk(keys.p384, "jwk-kid")] }), tokenIssuer: "https://app.example", tokenAudience: "realtime" } }),
  );

  it.each<[string, string[], { alg: string; kid?: string }]>([
    ["HS256 (the default with a secret)", [], { alg: "HS256" }],
    ["HS512", ["--alg", "HS512"], { alg: "HS512" }],
    ["RS256 (the default with an RSA key)", ["--private-key-file", files.rsa], { alg: "RS256" }],
    ["PS256", ["--private-key-file", files.rsa, "--alg", "PS256"], { alg: "PS256" }],
    ["RS512 with a kid", ["--private-key-file", files.rsa, "--alg", "RS512", "--kid", "r1"], { alg: "RS512", kid: "r1" }],
    ["ES256 from a SEC1 PEM", ["--private-key-file", files.p256], { alg: "ES256" }],
    ["ES384 from a private JWK (its kid and alg)", ["--private-key-file", files.p384Jwk], { alg: "ES384", kid: "jwk-kid" }],
    ["EdDSA", ["--private-key-file", files.ed25519, "--kid", "ed"], { alg: "EdDSA", kid: "ed" }],
  ])("%s", async (_name, args, header) => {
    const r = token(["--user", "42", "--info", '{"name":"Ann"}', ...args], env);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const jwt = r.stdout.trim();
    expect(decodeProtectedHeader(jwt)).toEqual({ typ: "JWT", ...header });
    const claims = await (header.alg === "ES384" ? jwkVerifier : verifier).verifyConnect(jwt);
    expect(claims.user).toBe("42");
    expect(JSON.parse(claims.connInfo.toString())).toEqual({ name: "Ann" });
  });

  it("a subscription token (--channel), with iss and aud from flags", async () => {
    const r = token(["--user", "7", "--channel", "private:7", "--private-key-file", files.ed25519, "--token-issuer", "https://app.example", "--token-audience", "realtime", "--ttl", "60"]);
    expect(r.stderr).toBe("");
    const claims = await verifier.verifySubscribe(r.stdout.trim(), "7", "private:7");
    expect(claims.expiresAt - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(60);
    await expect(verifier.verifySubscribe(r.stdout.trim(), "7", "private:8")).rejects.toThrow("subscription token is for another channel");
    // Without iss/aud the hub that checks them refuses it.
    const bare = token(["--user", "7", "--private-key-file", files.ed25519]);
    await expect(verifier.verifyConnect(bare.stdout.trim())).rejects.toThrow(/missing required "iss" claim/);
  });

  it.each<[string, string[], RegExp]>([
    ["unknown alg", ["--alg", "HS999"], /^realtime-hub: token: --alg: unknown algorithm "HS999" \(one of HS256, HS384, HS512, RS256/],
    ["alg none", ["--alg", "none"], /^realtime-hub: token: --alg: unknown algorithm "none"/],
    ["unreadable key file", ["--private-key-file", join(dir, "missing.pem")], /^realtime-hub: token: --private-key-file: cannot read .*missing\.pem: ENOENT$/],
    ["key file that holds no key", ["--private-key-file", files.garbage], /^realtime-hub: token: --private-key-file .*garbage\.pem: expected a PEM private key or a private JWK$/],
    ["key file with bad JSON", ["--private-key-file", files.badJson], /^realtime-hub: token: --private-key-file .*bad\.json: not valid JSON/],
    ["a public PEM key", ["--private-key-file", files.publicPem], /^realtime-hub: token: --private-key-file .*public\.pem: expected a PEM private key or a private JWK$/],
    ["a public JWK", ["--private-key-file", files.publicJwk], /^realtime-hub: token: --private-key-file .*public\.json: expected a private JWK \(with "d"\)$/],
    ["key not matching alg", ["--private-key-file", files.rsa, "--alg", "ES256"], /^realtime-hub: token: --alg ES256 does not fit the key in --private-key-file .*rsa\.pem \(a rsa key: RS256, RS384, RS512, PS256, PS384, PS512\)$/],
    ["curve not matching alg", ["--private-key-file", files.p256, "--alg", "ES384"], /^realtime-hub: token: --alg ES384 does not fit the key .*\(a ec key: ES256\)$/],
    ["an HMAC alg with a private key", ["--private-key-file", files.ed25519, "--alg", "HS256"], /^realtime-hub: token: --alg HS256 does not fit the key/],
    ["a public-key alg with a secret only", ["--alg", "RS256", "--token-hmac-secret", "s"], /^realtime-hub: token: --alg RS256: needs --private-key-file$/],
    ["no key at all", [], /^realtime-hub: token: --token-hmac-secret \(or REALTIME_TOKEN_HMAC_SECRET\) is required, or --private-key-file$/],
    ["bad JSON in --info", ["--token-hmac-secret", "s", "--info", "{name"], /^realtime-hub: token: --info: must be JSON, got "\{name"$/],
  ])("bad input, %s: one line, exit code 2", (_name, args, message) => {
    const r = token(["--user", "42", ...args]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
  });

  it("serve refuses a bad token key at start, naming the setting", () => {
    const r = spawnSync(process.execPath, [MAIN, "serve", "--dev", "--token-public-key-file", files.rsa], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^realtime-hub: tokenPublicKeyFile .*rsa\.pem: holds a private key \(PRIVATE KEY\); give the public key only/);
    const u = spawnSync(process.execPath, [MAIN, "serve", "--dev", "--token-jwks-url", "ftp://keys.example/jwks"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(u.status).toBe(2);
    expect(u.stderr.trim()).toBe('realtime-hub: tokenJwksUrl: must be an http:// or https:// URL, got "ftp://keys.example/jwks"');
  });
});

describe("a hub with tokenJwksUrl (WebSocket, non-dev)", () => {
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  let hub: TestHub;
  const clients: TestWsClient[] = [];
  beforeAll(async () => {
    jwks = await startJwksServer([publicJwk(keys.p256, "es"), publicJwk(keys.ed25519, "ed")]);
    hub = await startTestHub({
      dev: false,
      apiKey: "k",
      tokenJwksUrl: jwks.url,
      tokenIssuer: "https://app.example",
      namespaces: [{ ...defaultNamespace("private"), private: true }],
    });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await hub.stop();
    await jwks.close();
  });
  const open = async () => {
    const c = await TestWsClient.open(hub.wsUrl);
    clients.push(c);
    return c;
  };

  it("accepts a connect with a token the CLI signed with a key of the set, and a subscription token", async () => {
    const minted = token(["--user", "42", "--private-key-file", files.p256, "--kid", "es", "--token-issuer", "https://app.example"]);
    expect(minted.stderr).toBe("");
    const c = await open();
    const r = await c.call({ connect: { token: minted.stdout.trim() } });
    expect(r.error).toBeUndefined();
    const sub = await signTokenWith({ alg: "EdDSA", key: keys.ed25519.privateKey, kid: "ed" }, { sub: "42", channel: "private:a" }, { issuer: "https://app.example" });
    expect((await c.call({ subscribe: { channel: "private:a", token: sub } })).error).toBeUndefined();
    expect((await c.call({ subscribe: { channel: "private:b", token: sub } })).error).toMatchObject({ code: ErrorCode.ERROR_CODE_PERMISSION_DENIED });
    expect(c.closeCode).toBeNull();
    expect(jwks.state.requests).toBe(1);
  });

  it("refuses a token signed by a key not in the set, and closes the connection as for any bad token", async () => {
    const stranger = testKeys().p256.privateKey;
    const c = await open();
    const r = await c.call({ connect: { token: await signTokenWith({ alg: "ES256", key: stranger, kid: "es" }, { sub: "42" }, { issuer: "https://app.example" }) } });
    expect(r.error).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHORIZED, message: "invalid token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    expect(await c.waitClosed()).toBe(3503);
  });
});
