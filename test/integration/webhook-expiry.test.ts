import { afterEach, describe, expect, it } from "vitest";
import { signToken } from "../../src/auth/jwt.js";
import { defaultNamespace, type Config } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { eventually } from "../helpers/until.js";
import { WebhookBackend } from "../helpers/webhook-backend.js";
import { TestWsClient } from "../helpers/ws-client.js";

const PING_S = 25;

/**
 * Connections and subscriptions that expire: the app extends them through the refresh
 * webhooks one tick ahead, the client with refresh / sub_refresh; one nobody extends ends
 * with a clear code. Time moves with a manual clock; the webhooks are real HTTP.
 */
describe("expiry and refresh", () => {
  let app: WebhookBackend | undefined;
  let hub: TestHub | undefined;
  let clock: ManualClock;
  const clients: TestWsClient[] = [];
  /** Unix seconds on the hub's clock, which the test moves. */
  const nowS = () => Math.floor(clock.now() / 1000);

  async function start(overrides: (app: WebhookBackend) => Partial<Config> = () => ({})): Promise<TestHub> {
    app = await WebhookBackend.start();
    clock = new ManualClock(Date.now());
    hub = await startTestHub(
      {
        proxySecret: "webhook-secret",
        pingIntervalSeconds: PING_S,
        tokenHmacSecret: "s3cret",
        namespaces: [
          { ...defaultNamespace("hooked"), subscribeProxy: app.url("subscribe"), subRefreshProxy: app.url("subRefresh"), unsubscribeProxy: app.url("unsubscribe") },
          { ...defaultNamespace("lapsing"), subscribeProxy: app.url("subscribe"), unsubscribeProxy: app.url("unsubscribe") },
          { ...defaultNamespace("private"), private: true },
        ],
        ...overrides(app),
      },
      { clock },
    );
    return hub;
  }

  async function client(token?: string): Promise<TestWsClient> {
    const c = await TestWsClient.open(hub!.wsUrl);
    clients.push(c);
    const r = await c.call({ connect: token ? { token } : {} });
    expect(r.error).toBeUndefined();
    return c;
  }

  /** One ping interval later, with the client's pong in between so it is not closed for silence. */
  async function tick(c: TestWsClient): Promise<void> {
    c.sendRaw("{}");
    await new Promise((r) => setTimeout(r, 20));
    await clock.advance(PING_S * 1000);
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await hub?.stop();
    await app?.close();
    hub = app = undefined;
  });

  it("asks the refresh webhook before a webhook-authenticated connection expires, and keeps it", async () => {
    await start((a) => ({ proxyConnectUrl: a.url("connect"), proxyRefreshUrl: a.url("refresh") }));
    app!.handlers.connect = () => ({ result: { user: "u1", expireAt: String(nowS() + 30) } });
    app!.handlers.refresh = () => ({ result: { expireAt: String(nowS() + 3600), info: { fresh: true } } });
    const c = await client();
    expect(c.messages.find((m) => m.connect).connect.ttl).toBeGreaterThan(25);
    await tick(c); // 5 s left: within one tick, so asked now
    await eventually(() => expect(app!.of("refresh")).toHaveLength(1));
    expect(app!.of("refresh")[0]!.body.context.user).toBe("u1");
    await tick(c); // past the first expiry
    await tick(c);
    expect(c.closeCode).toBeNull();
    expect(app!.of("refresh")).toHaveLength(1);
  });

  it("closes a connection the refresh webhook says is expired (3005), and one it cannot extend when the webhook is down", async () => {
    await start((a) => ({ proxyConnectUrl: a.url("connect"), proxyRefreshUrl: a.url("refresh") }));
    app!.handlers.connect = () => ({ result: { user: "u1", expireAt: String(nowS() + 30) } });
    app!.handlers.refresh = () => ({ result: { expired: true } });
    const c = await client();
    await tick(c); // 5 s left: asked, declined; the connection lives until its expiry
    await eventually(() => expect(app!.of("refresh")).toHaveLength(1));
    expect(c.closeCode).toBeNull();
    await tick(c);
    expect(await c.waitClosed()).toBe(3005);
    expect(app!.of("refresh")).toHaveLength(1);

    app!.handlers.refresh = () => ({ raw: "down", status: 503 });
    const d = await client();
    await tick(d); // 5 s left: asked, failed
    await eventually(() => expect(app!.of("refresh").length).toBe(2));
    expect(d.closeCode).toBeNull();
    await tick(d); // past the expiry, not extended
    expect(await d.waitClosed()).toBe(3005);
  });

  it("extends a webhook-granted subscription through the subscription refresh webhook", async () => {
    await start();
    app!.handlers.subscribe = () => ({ result: { expireAt: String(nowS() + 30) } });
    app!.handlers.subRefresh = (body) => ({ result: { expireAt: String(nowS() + 3600), info: { channel: body.channel } } });
    const c = await client();
    const r = await c.call({ subscribe: { channel: "hooked:1" } });
    expect(r.subscribe.ttl).toBeGreaterThan(25);
    await tick(c);
    await eventually(() => expect(app!.of("subRefresh").map((x) => x.body.channel)).toEqual(["hooked:1"]));
    await tick(c);
    await tick(c);
    expect(c.messages.some((m) => m.push?.unsubscribe)).toBe(false);
  });

  it("ends a subscription nobody extends with an unsubscribe push 2002, and tells the app", async () => {
    await start();
    app!.handlers.subscribe = () => ({ result: { expireAt: String(nowS() + 30) } });
    const c = await client();
    await c.call({ subscribe: { channel: "lapsing:1" } });
    await tick(c);
    expect(c.messages.some((m) => m.push?.unsubscribe)).toBe(false);
    await tick(c);
    const push = await c.waitFor((m) => m.push?.unsubscribe);
    expect(push.push).toEqual({ channel: "lapsing:1", unsubscribe: { code: 2002, reason: "subscription expired" } });
    await eventually(() => expect(app!.of("unsubscribe").map((u) => [u.body.channel, u.body.code])).toEqual([["lapsing:1", 2002]]));
    // Subscribing again works (the app decides again).
    expect((await c.call({ subscribe: { channel: "lapsing:1" } })).error).toBeUndefined();
  });

  it("keeps a token subscription the client refreshes with sub_refresh, and ends one it does not", async () => {
    await start();
    const c = await client(await signToken("s3cret", { sub: "u7" }));
    const short = (channel: string) => signToken("s3cret", { sub: "u7", channel }, 30);
    const r = await c.call({ subscribe: { channel: "private:a", token: await short("private:a") } });
    expect(r.subscribe.ttl).toBeGreaterThan(25);
    await c.call({ subscribe: { channel: "private:b", token: await short("private:b") } });
    const refreshed = await c.call({ subRefresh: { channel: "private:a", token: await signToken("s3cret", { sub: "u7", channel: "private:a" }, 3600) } });
    expect(refreshed.subRefresh.ttl).toBeGreaterThan(3500);
    // A token for another channel does not refresh this one.
    const wrong = await c.call({ subRefresh: { channel: "private:b", token: await signToken("s3cret", { sub: "u7", channel: "private:a" }, 3600) } });
    expect(wrong.error.code).toBe(103);
    await tick(c);
    await tick(c);
    const push = await c.waitFor((m) => m.push?.unsubscribe);
    expect(push.push.channel).toBe("private:b");
    expect(c.messages.filter((m) => m.push?.unsubscribe)).toHaveLength(1);
    expect(c.closeCode).toBeNull();
  });
});
