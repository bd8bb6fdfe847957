import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultNamespace, type Config } from "../../src/config.js";
import { signature } from "../../src/proxy/signature.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { freePort } from "../helpers/processes.js";
import { canRunSymfonyBundle, startSymfonyBundleApp, type SymfonyBundleApp } from "../helpers/symfony-bundle-app.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * The bundle's webhook side (clients/php/bundle/src/Webhook, Event, Security, Rpc) in the real
 * test app (test/symfony-bundle): one route import, a session login, a Voter, a ConnectEvent
 * listener, #[AsRpcHandler] services and a notification listener. Real hubs (not --dev) ask
 * the app about everything, one in JSON and one in protobuf, forwarding the session cookie.
 */

const SECRET = "bundle-webhook-secret";
const API_KEY = "bundle-webhook-api-key";

function hubConfig(appUrl: string, contentType: "json" | "protobuf", httpAddr = "127.0.0.1:0"): Partial<Config> {
  const hook = (path: string) => `${appUrl}/realtime/${path}`;
  return {
    dev: false,
    httpAddr,
    apiKey: API_KEY,
    proxyConnectUrl: hook("connect"),
    proxySubscribeUrl: hook("subscribe"),
    proxyPublishUrl: hook("publish"),
    proxyRpcUrl: hook("rpc"),
    proxyDisconnectUrl: hook("disconnect"),
    proxyUnsubscribeUrl: hook("unsubscribe"),
    proxySecret: SECRET,
    proxyCookies: "PHPSESSID",
    proxyContentType: contentType,
    proxyNotifyRetrySeconds: 5,
    namespaces: [{ ...defaultNamespace("user"), presence: true }, { ...defaultNamespace("news") }],
  };
}

describe.runIf(canRunSymfonyBundle("Symfony bundle webhooks"))("the bundle's webhooks as Symfony events, in a real Symfony app", () => {
  let app: SymfonyBundleApp;
  let hub: TestHub;
  let protobufHub: TestHub;
  const open: TestWsClient[] = [];

  beforeAll(async () => {
    const hubPort = await freePort();
    app = await startSymfonyBundleApp({ REALTIME_DSN: `http://127.0.0.1:${hubPort}`, REALTIME_API_KEY: API_KEY, REALTIME_WEBHOOK_SECRET: SECRET });
    hub = await startTestHub(hubConfig(app.url, "json", `127.0.0.1:${hubPort}`));
    protobufHub = await startTestHub(hubConfig(app.url, "protobuf"));
  }, 180_000);
  afterAll(async () => {
    for (const c of open) c.close();
    await hub?.stop();
    await protobufHub?.stop();
    await app?.stop();
  });

  /** Logs in through the firewall's form_login; the session cookie the browser would keep. */
  async function login(user: string): Promise<string> {
    const res = await fetch(`${app.url}/login`, { method: "POST", body: new URLSearchParams({ _username: user, _password: `${user}-secret` }), redirect: "manual" });
    expect(res.status, app.output()).toBe(302);
    expect(res.headers.get("location")).not.toContain("/login"); // a failed login goes back to the form
    const cookie = /PHPSESSID=[^;]+/.exec(res.headers.get("set-cookie") ?? "")?.[0];
    expect(cookie, "session cookie").toBeDefined();
    return cookie!;
  }

  /** A WebSocket client sending `cookie` with its upgrade, as the browser of that session would. */
  async function client(url: string, cookie?: string): Promise<TestWsClient> {
    const c = await TestWsClient.open(url, cookie ? { headers: { Cookie: cookie } } : {});
    open.push(c);
    return c;
  }

  describe("the signature check", () => {
    const body = JSON.stringify({ context: { client: "c-1", transport: "websocket" }, name: "direct" });
    const now = () => Math.floor(Date.now() / 1000);
    const signed = (ts: number, over = body, secret = SECRET) => ({ "x-realtime-timestamp": String(ts), "x-realtime-signature": signature(secret, ts, Buffer.from(over)) });
    const connect = (headers: Record<string, string>) => fetch(`${app.url}/realtime/connect`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

    it.each<[string, () => Record<string, string>]>([
      ["unsigned", () => ({})],
      ["signed with another secret", () => signed(now(), body, "not-the-secret")],
      ["signed for another body (tampered)", () => signed(now(), body.replace("c-1", "c-2"))],
      ["replayed after the 300 s window", () => signed(now() - 310)],
      ["dated past the window in the future", () => signed(now() + 310)],
    ])("answers HTTP 401 to a call %s", async (_, headers) => {
      const res = await connect(headers());
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 101, message: "bad or expired webhook signature" } });
    });

    it("answers a signed call inside the window: no session, so the default connect denies with 101", async () => {
      const res = await connect(signed(now() - 290));
      expect(res.status, app.output()).toBe(200);
      expect(await res.json()).toEqual({ error: { code: 101, message: "not logged in" } });
    });

    it("refuses a call of another kind than its route's (X-Realtime-Call) with 400", async () => {
      const res = await connect({ ...signed(now()), "x-realtime-call": "subscribe" });
      expect(res.status).toBe(400);
    });
  });

  describe.each([
    ["JSON", () => hub],
    ["protobuf", () => protobufHub],
  ] as const)("a hub posting %s", (_, theHub) => {
    it("connects a client by its session's Security user, as the ConnectEvent listener enriched it", async () => {
      const c = await client(theHub().wsUrl, await login("alice"));
      const r = await c.call({ connect: { data: { hi: 1 } } });
      expect(r.error, app.output()).toBeUndefined();
      expect(r.connect.data).toEqual({ hello: "Alice", client: { hi: 1 } });
      // The voter lets alice into her own channel; the hub took the listener's info.
      expect((await c.call({ subscribe: { channel: "user:alice" } })).error).toBeUndefined();
      const presence = await theHub().api.presence({ channel: "user:alice" });
      expect(Object.values(presence.presence).map((p) => [p.user, JSON.parse(Buffer.from(p.connInfo).toString())])).toEqual([["alice", { name: "Alice" }]]);
      c.close();
    });

    it("refuses a client without a session (101: no Security user) and disconnects a banned one (the listener's 4501)", async () => {
      const anonymous = await client(theHub().wsUrl);
      expect((await anonymous.call({ connect: {} })).error).toMatchObject({ code: 101, message: "not logged in" });
      const carol = await client(theHub().wsUrl, await login("carol"));
      void carol.call({ connect: {} }).catch(() => undefined);
      expect(await carol.waitClosed()).toBe(4501);
      expect(carol.closeReason).toBe("banned");
    });

    it("lets the Voter decide subscribe and publish (REALTIME_SUBSCRIBE, REALTIME_PUBLISH)", async () => {
      const c = await client(theHub().wsUrl, await login("bob"));
      expect((await c.call({ connect: {} })).error).toBeUndefined();
      expect((await c.call({ subscribe: { channel: "user:bob" } })).error).toBeUndefined();
      expect((await c.call({ subscribe: { channel: "news:today" } })).error).toBeUndefined();
      expect((await c.call({ subscribe: { channel: "user:alice" } })).error).toMatchObject({ code: 103, message: "bob may not subscribe to user:alice" });
      expect((await c.call({ publish: { channel: "user:bob", data: { note: "to myself" } } })).error).toBeUndefined();
      await c.waitFor((m) => m.push?.pub && m.push.channel === "user:bob");
      expect(c.pubs("user:bob")[0].data).toEqual({ note: "to myself" });
      expect((await c.call({ publish: { channel: "news:today", data: { fake: true } } })).error).toMatchObject({ code: 103, message: "bob may not publish to news:today" });
      c.close();
    });

    it("answers rpc with the #[AsRpcHandler] services; unknown methods 104, refusals and failures as errors", async () => {
      const c = await client(theHub().wsUrl, await login("alice"));
      expect((await c.call({ connect: {} })).error).toBeUndefined();
      const whoami = await c.call({ rpc: { method: "whoami", data: { ping: 1 } } });
      expect(whoami.error, app.output()).toBeUndefined();
      expect(whoami.rpc.data).toEqual({ user: "alice", transport: "websocket", echo: { ping: 1 } });
      expect((await c.call({ rpc: { method: "math.divide", data: { a: 1, b: 4 } } })).rpc.data).toBe(0.25);
      expect((await c.call({ rpc: { method: "math.divide", data: { a: 1, b: 0 } } })).error).toMatchObject({ code: 107, message: "division by zero" });
      // A bug in a handler: a plain error, not the temporary 108 of an HTTP 500.
      const broken = await c.call({ rpc: { method: "math.broken" } });
      expect(broken.error).toMatchObject({ code: 100, message: "rpc math.broken failed" });
      expect(broken.error.temporary).toBeFalsy();
      expect((await c.call({ rpc: { method: "no.such.method" } })).error).toMatchObject({ code: 104, message: "method not found: no.such.method" });
      c.close();
    });
  });

  it("delivers the unsubscribe and disconnect notifications to a listener, with their event ids", async () => {
    const c = await client(hub.wsUrl, await login("alice"));
    const connected = await c.call({ connect: {} });
    expect(connected.error).toBeUndefined();
    const clientId: string = connected.connect.client;
    expect((await c.call({ subscribe: { channel: "user:alice" } })).error).toBeUndefined();
    expect((await c.call({ subscribe: { channel: "news:today" } })).error).toBeUndefined();
    expect((await c.call({ unsubscribe: { channel: "news:today" } })).error).toBeUndefined();
    c.close();
    const file = join(app.varDir, "realtime-notifications.jsonl");
    const mine = await until(
      () => {
        if (!existsSync(file)) return undefined;
        const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
        const own = lines.filter((l) => l.client === clientId || (l.kind === "unsubscribe" && l.channel === "news:today" && l.user === "alice"));
        return own.some((l) => l.kind === "disconnect") && own.some((l) => l.kind === "unsubscribe") ? own : undefined;
      },
      { ms: 10_000, what: `the notifications of ${clientId} in ${file}\n${app.output()}` },
    );
    const disconnect = mine.find((l) => l.kind === "disconnect")!;
    expect(disconnect).toMatchObject({ user: "alice", channels: ["user:alice"] });
    expect(disconnect.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine.find((l) => l.kind === "unsubscribe")).toMatchObject({ user: "alice", channel: "news:today" });
  });
});
