import { afterEach, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { signToken, TokenVerifier } from "../../src/auth/jwt.js";
import { defaultNamespace } from "../../src/config.js";
import { HubError } from "../../src/errors.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

const secret = "s";
const HOUR = 3600;

/** A token with exactly these claims (signToken always sets sub and, by default, exp). */
const raw = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));

async function refusal(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error("expected the token to be refused");
}

describe("TokenVerifier: empty subject", () => {
  it("refuses a connection token with sub \"\" when anonymous connections are off", async () => {
    const token = await signToken(secret, { sub: "" });
    for (const v of [new TokenVerifier(secret), new TokenVerifier(secret, { allowAnonymous: false })]) {
      const err = await refusal(v.verifyConnect(token));
      expect(err.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
      expect(err.message).toBe("invalid token: empty sub claim (anonymous), and anonymous connections are off (allowAnonymous)");
    }
  });

  it("takes sub \"\" as the anonymous user when anonymous connections are allowed", async () => {
    const v = new TokenVerifier(secret, { allowAnonymous: true });
    const claims = await v.verifyConnect(await signToken(secret, { sub: "", info: { name: "guest" } }));
    expect(claims.user).toBe("");
    expect(JSON.parse(claims.connInfo.toString())).toEqual({ name: "guest" });
    // And such a user may use subscription tokens minted without a sub, as anonymous users may.
    const sub = await v.verifySubscribe(await raw({ channel: "private:x", exp: Math.floor(Date.now() / 1000) + HOUR }), "", "private:x");
    expect(sub.user).toBe("");
  });

  it("still refuses a connection token without sub, and a named user's sub is unaffected", async () => {
    const v = new TokenVerifier(secret);
    expect((await refusal(v.verifyConnect(await raw({})))).message).toBe("invalid token: no sub claim");
    expect((await v.verifyConnect(await signToken(secret, { sub: "7" }))).user).toBe("7");
  });
});

describe("TokenVerifier: requireTokenExp", () => {
  it("refuses connection and subscription tokens without exp", async () => {
    const v = new TokenVerifier(secret, { requireTokenExp: true });
    const conn = await refusal(v.verifyConnect(await signToken(secret, { sub: "7" }, 0)));
    expect(conn.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
    expect(conn.message).toBe("invalid token: connection token without exp claim, and this hub requires one (requireTokenExp)");
    const sub = await refusal(v.verifySubscribe(await signToken(secret, { sub: "7", channel: "private:x" }, 0), "7", "private:x"));
    expect(sub.code).toBe(ErrorCode.ERROR_CODE_UNAUTHORIZED);
    expect(sub.message).toBe("invalid token: subscription token without exp claim, and this hub requires one (requireTokenExp)");
  });

  it("accepts tokens with exp, and still tells an expired one apart", async () => {
    const v = new TokenVerifier(secret, { requireTokenExp: true });
    const c = await v.verifyConnect(await signToken(secret, { sub: "7" }, HOUR));
    expect(c.expiresAt).toBeGreaterThan(Date.now() / 1000);
    const s = await v.verifySubscribe(await signToken(secret, { sub: "7", channel: "private:x" }, HOUR), "7", "private:x");
    expect(s.expiresAt).toBe(c.expiresAt);
    expect((await refusal(v.verifyConnect(await signToken(secret, { sub: "7" }, -10)))).code).toBe(ErrorCode.ERROR_CODE_TOKEN_EXPIRED);
  });

  it("is off by default: tokens without exp pass and never expire", async () => {
    const v = new TokenVerifier(secret);
    expect((await v.verifyConnect(await signToken(secret, { sub: "7" }, 0))).expiresAt).toBe(0);
    expect((await v.verifySubscribe(await signToken(secret, { sub: "7", channel: "private:x" }, 0), "7", "private:x")).expiresAt).toBe(0);
  });
});

describe("tokens end to end (WebSocket, non-dev hub)", () => {
  let hub: TestHub | undefined;
  const clients: TestWsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await hub?.stop();
    hub = undefined;
  });
  const open = async (h: TestHub) => {
    const c = await TestWsClient.open(h.wsUrl);
    clients.push(c);
    return c;
  };

  it("an empty sub and a missing exp are refused at connect; a private channel needs a subscription token with exp", async () => {
    hub = await startTestHub({
      dev: false,
      apiKey: "k",
      tokenHmacSecret: secret,
      allowAnonymous: false,
      requireTokenExp: true,
      namespaces: [{ ...defaultNamespace("private"), private: true }],
    });
    const h = hub;

    // Anonymous by the back door: refused, and the connection is closed as for any bad token.
    const anon = await open(h);
    const r1 = await anon.call({ connect: { token: await signToken(secret, { sub: "" }) } });
    expect(r1.error).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHORIZED, message: expect.stringMatching(/empty sub.*allowAnonymous/) });
    await anon.waitClosed();

    const noExp = await open(h);
    const r2 = await noExp.call({ connect: { token: await signToken(secret, { sub: "7" }, 0) } });
    expect(r2.error).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHORIZED, message: expect.stringMatching(/requireTokenExp/) });
    await noExp.waitClosed();

    const user = await open(h);
    expect((await user.call({ connect: { token: await signToken(secret, { sub: "7" }) } })).error).toBeUndefined();
    const channel = "private:x";
    const r3 = await user.call({ subscribe: { channel, token: await signToken(secret, { sub: "7", channel }, 0) } });
    expect(r3.error).toMatchObject({ code: ErrorCode.ERROR_CODE_UNAUTHORIZED, message: expect.stringMatching(/subscription token without exp.*requireTokenExp/) });
    const r4 = await user.call({ subscribe: { channel, token: await signToken(secret, { sub: "7", channel }) } });
    expect(r4.error).toBeUndefined();
    expect(user.closeCode).toBeNull();
  });
});

describe("TokenVerifier: kinds of token", () => {
  it("refuses a subscription token (it names a channel) as a connection token", async () => {
    const v = new TokenVerifier(secret);
    const sub = await signToken(secret, { sub: "7", channel: "private:x" });
    const e = await refusal(v.verifyConnect(sub));
    expect(e.code).toBe(101);
    expect(e.message).toMatch(/subscription token/);
    expect((await v.verifySubscribe(sub, "7", "private:x")).channel).toBe("private:x");
  });
});
