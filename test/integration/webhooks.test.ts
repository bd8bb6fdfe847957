import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultNamespace, type Config } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { eventually } from "../helpers/until.js";
import { WebhookBackend } from "../helpers/webhook-backend.js";
import { readSse } from "../helpers/sse-client.js";
import { signToken } from "../../src/auth/jwt.js";
import { SubscribeProxyRequest, SubscribeProxyResponse } from "../../src/gen/realtime/v1/proxy.js";

const SECRET = "webhook-secret";
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("webhooks over HTTP (the Symfony-first mode)", () => {
  let app: WebhookBackend;
  let hub: TestHub;
  const clients: TestWsClient[] = [];

  async function open(headers: Record<string, string> = {}): Promise<TestWsClient> {
    const c = await TestWsClient.open(hub.wsUrl, { headers });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    app = await WebhookBackend.start(SECRET);
    const urls: Partial<Config> = {
      proxyConnectUrl: app.url("connect"),
      proxySubscribeUrl: app.url("subscribe"),
      proxyPublishUrl: app.url("publish"),
      proxyRpcUrl: app.url("rpc"),
      proxyDisconnectUrl: app.url("disconnect"),
      proxyUnsubscribeUrl: app.url("unsubscribe"),
    };
    hub = await startTestHub({
      ...urls,
      proxySecret: SECRET,
      proxyHeaders: "authorization,x-forwarded-for",
      proxyCookies: "PHPSESSID",
      proxyConnectTimeoutMs: 500,
      proxyNotifyRetrySeconds: 5,
      namespaces: [
        { ...defaultNamespace("news"), historySize: 10, historyTtlSeconds: 60 },
        { ...defaultNamespace("open"), subscribeProxy: "off", publishProxy: "off", allowPublish: true },
        { ...defaultNamespace("room"), presence: true },
      ],
    });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const k of Object.keys(app.handlers)) delete app.handlers[k];
    app.calls.length = 0;
  });
  afterAll(async () => {
    await hub.stop();
    await app.close();
  });

  it("authenticates a connect by the browser's own cookie, signed, and keeps meta for later calls", async () => {
    app.handlers.connect = (body) =>
      body.context.cookies.PHPSESSID === "sess-42"
        ? { result: { user: "42", info: { name: "Ada" }, data: { hello: "Ada" }, meta: b64("m-42"), subscriptions: { "news:1": {} } } }
        : { error: { code: 101, message: "not logged in" } };
    const c = await open({ Cookie: "theme=dark; PHPSESSID=sess-42", Authorization: "Bearer abc", "X-Other": "no" });
    const r = await c.call({ connect: { data: { client: "web" } } });
    expect(r.error).toBeUndefined();
    expect(r.connect.data).toEqual({ hello: "Ada" });
    expect(Object.keys(r.connect.subs)).toEqual(["news:1"]);
    expect(r.connect.subs["news:1"].recoverable).toBe(true);

    const [call] = app.of("connect");
    expect(call!.signed).toBe(true);
    // Only the named cookie and headers, as the real upgrade request carried them.
    expect(call!.body.context).toMatchObject({
      transport: "websocket",
      protocol: "json",
      node: hub.node.id,
      remoteAddr: "127.0.0.1",
      headers: { authorization: "Bearer abc" },
      cookies: { PHPSESSID: "sess-42" },
    });
    expect(call!.body.context.headers["x-other"]).toBeUndefined();
    expect(call!.body.data).toEqual({ client: "web" });
    // Also as real headers of the POST, so a session firewall sees the user's session.
    expect(call!.headers.cookie).toBe("PHPSESSID=sess-42");
    expect(call!.headers.authorization).toBe("Bearer abc");

    // The server-side subscription delivers; the connect reply came first.
    await hub.api.publish({ channel: "news:1", data: Buffer.from('{"n":1}'), idempotencyKey: "", skipHistory: false, tags: {} });
    await c.waitFor((m) => m.push?.channel === "news:1" && m.push.pub);
    const connectAt = c.messages.findIndex((m) => m.connect);
    const pubAt = c.messages.findIndex((m) => m.push?.pub);
    expect(connectAt).toBeLessThan(pubAt);

    // Later calls carry the user and the meta the connect answer set.
    app.handlers.subscribe = () => ({ result: {} });
    expect((await c.call({ subscribe: { channel: "room:1" } })).error).toBeUndefined();
    const [sub] = app.of("subscribe");
    expect(sub!.body.context).toMatchObject({ user: "42", meta: b64("m-42") });
    expect(sub!.body.channel).toBe("room:1");
  });

  it("refuses a connect the app refuses, with the app's code, and closes on its disconnect answer", async () => {
    app.handlers.connect = () => ({ error: { code: 4001, message: "banned", temporary: false } });
    const c = await open();
    const r = await c.call({ connect: {} });
    expect(r.error).toEqual({ code: 4001, message: "banned" });

    app.handlers.connect = () => ({ disconnect: { code: 4100, reason: "go away", reconnect: false } });
    const d = await open();
    d.sendRaw(JSON.stringify({ id: 1, connect: {} }));
    expect(await d.waitClosed()).toBe(4100);
    expect(d.closeReason).toBe("go away");
  });

  it.each([
    ["down", "down"],
    ["slow", "hang"],
    ["garbage", { raw: "<html>oops</html>", contentType: "text/html" }],
    ["empty", {}],
    ["unknown fields", { allow: true }],
    ["HTTP 500", { raw: "{}", status: 500 }],
    ["huge", { raw: JSON.stringify({ result: { data: { x: "y".repeat(2 * 1024 * 1024) } } }) }],
  ] as const)("fails only that connect, temporarily, when the backend is %s", async (_name, answer) => {
    const started = Date.now();
    let c: TestWsClient;
    if (answer === "down") {
      const gone = await startTestHub({ proxyConnectUrl: "http://127.0.0.1:1/connect", proxyConnectTimeoutMs: 500 });
      try {
        c = await TestWsClient.open(gone.wsUrl);
        const r = await c.call({ connect: {} });
        expect(r.error).toMatchObject({ code: 108, temporary: true });
        expect(r.error.message).toMatch(/connect webhook: cannot reach the backend/);
        c.close();
      } finally {
        await gone.stop();
      }
      return;
    }
    app.handlers.connect = () => answer;
    c = await open();
    const r = await c.call({ connect: {} });
    expect(r.error).toMatchObject({ code: 108, temporary: true });
    // Never past its timeout (500 ms), with room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(3000);
    // The node is fine: the next connect the app allows goes through.
    app.handlers.connect = () => ({ result: { user: "7" } });
    expect((await (await open()).call({ connect: {} })).error).toBeUndefined();
  });

  it("asks the app before each subscribe, and a namespace can turn its webhook off", async () => {
    app.handlers.connect = () => ({ result: { user: "u1" } });
    app.handlers.subscribe = (body) =>
      body.channel === "room:secret"
        ? { error: { code: 103, message: "not your room" } }
        : { result: { info: { role: "member" }, presence: true } };
    const c = await open();
    await c.call({ connect: {} });
    expect((await c.call({ subscribe: { channel: "room:secret" } })).error).toEqual({ code: 103, message: "not your room" });
    expect((await c.call({ subscribe: { channel: "room:1" } })).error).toBeUndefined();
    const p = await c.call({ presence: { channel: "room:1" } });
    expect(Object.values(p.presence.presence)).toEqual([expect.objectContaining({ user: "u1", chanInfo: { role: "member" } })]);
    // open:* has subscribeProxy off: no call.
    const before = app.of("subscribe").length;
    expect((await c.call({ subscribe: { channel: "open:1" } })).error).toBeUndefined();
    expect(app.of("subscribe").length).toBe(before);
  });

  it("lets the app rewrite or refuse what a browser publishes", async () => {
    app.handlers.connect = () => ({ result: { user: "u1" } });
    app.handlers.publish = (body) =>
      body.data.text === "spam"
        ? { error: { code: 103, message: "no spam" } }
        : { result: { data: { text: String(body.data.text).toUpperCase(), by: body.context.user }, tags: { checked: "yes" } } };
    const c = await open();
    await c.call({ connect: {} });
    await c.call({ subscribe: { channel: "news:2" } });
    expect((await c.call({ publish: { channel: "news:2", data: { text: "spam" } } })).error).toEqual({ code: 103, message: "no spam" });
    expect((await c.call({ publish: { channel: "news:2", data: { text: "hi" } } })).error).toBeUndefined();
    const pub = await c.waitFor((m) => m.push?.pub && m.push.channel === "news:2");
    expect(pub.push.pub.data).toEqual({ text: "HI", by: "u1" });
    expect(pub.push.pub.tags).toEqual({ checked: "yes" });
  });

  it("answers a browser's rpc through the app", async () => {
    app.handlers.connect = () => ({ result: { user: "u1" } });
    app.handlers.rpc = (body) => (body.method === "sum" ? { result: { data: { sum: body.data.a + body.data.b } } } : { error: { code: 104, message: "no such method" } });
    const c = await open();
    await c.call({ connect: {} });
    expect((await c.call({ rpc: { method: "sum", data: { a: 2, b: 3 } } })).rpc).toEqual({ data: { sum: 5 } });
    expect((await c.call({ rpc: { method: "nope", data: {} } })).error).toEqual({ code: 104, message: "no such method" });
  });

  it("notifies the app of unsubscribes and disconnects, with event ids, retrying until it takes them", async () => {
    app.handlers.connect = () => ({ result: { user: "u9" } });
    let failures = 0;
    // Earlier tests' clients may still be reported: only u9 counts here.
    app.handlers.disconnect = (body) => (body.context.user === "u9" && failures++ < 2 ? { raw: "busy", status: 503 } : {});
    const mine = () => app.of("disconnect").filter((d) => d.body.context.user === "u9");
    const c = await open();
    await c.call({ connect: {} });
    await c.call({ subscribe: { channel: "open:a" } });
    await c.call({ subscribe: { channel: "open:b" } });
    await c.call({ unsubscribe: { channel: "open:a" } });
    await eventually(() => expect(app.of("unsubscribe").map((u) => [u.body.channel, u.body.code])).toEqual([["open:a", 2001]]));
    expect(app.of("unsubscribe")[0]!.body).toMatchObject({ channel: "open:a", code: 2001, context: { user: "u9" } });
    c.close();
    // Refused twice (503), then taken: three attempts, one event id.
    await eventually(() => expect(mine()).toHaveLength(3), 5000);
    const ids = new Set(mine().map((d) => d.body.eventId));
    expect(ids.size).toBe(1);
    expect(mine()[0]!.body).toMatchObject({ channels: ["open:b"], code: 3000 });
    expect(mine().every((d) => d.signed)).toBe(true);
  });

  it("connects SSE through the webhook with the request's cookie, and streams the channels the app subscribed it to", async () => {
    app.handlers.connect = (body) => ({ result: { user: body.context.cookies.PHPSESSID === "sse-1" ? "s1" : "", subscriptions: { "news:sse": {} } } });
    // No channel in the URL: the app's server-side subscription is the stream.
    const stream = readSse(`${hub.httpUrl}/connection/sse`, 2, { Cookie: "PHPSESSID=sse-1" });
    await eventually(() => expect(app.of("connect")).toHaveLength(1));
    expect(app.of("connect")[0]!.body.context).toMatchObject({ transport: "sse", cookies: { PHPSESSID: "sse-1" } });
    // Published once the app's subscription is in place (the connect webhook answered).
    await eventually(() => expect(hub.node.hub.numSubscribers("news:sse")).toBe(1));
    await hub.api.publish({ channel: "news:sse", data: Buffer.from('{"to":"sse"}'), idempotencyKey: "", skipHistory: false, tags: {} });
    const { events, close } = await stream;
    close();
    expect(events[0]!.data.connect).toMatchObject({ subs: { "news:sse": { recoverable: true } } });
    expect(events[1]!.data.push).toMatchObject({ channel: "news:sse", pub: { data: { to: "sse" } } });
  });

  it("applies a subscribe answer's overrides: hidden from presence, no recovery", async () => {
    app.handlers.connect = (body) => ({ result: { user: body.data?.user ?? "o1" } });
    app.handlers.subscribe = (body) =>
      body.context.user === "ghost" ? { result: { presence: false, recovery: false } } : { result: { info: { seat: 4 } } };
    const seen = await open();
    await seen.call({ connect: { data: { user: "o1" } } });
    const ghost = await open();
    await ghost.call({ connect: { data: { user: "ghost" } } });
    // room: has presence; the ghost's subscription is left out of it.
    expect((await seen.call({ subscribe: { channel: "room:o" } })).error).toBeUndefined();
    expect((await ghost.call({ subscribe: { channel: "room:o" } })).error).toBeUndefined();
    const p = await seen.call({ presence: { channel: "room:o" } });
    expect(Object.values(p.presence.presence)).toEqual([expect.objectContaining({ user: "o1", chanInfo: { seat: 4 } })]);
    // news: keeps history; the ghost's subscription is not recoverable.
    expect((await seen.call({ subscribe: { channel: "news:o" } })).subscribe.recoverable).toBe(true);
    expect((await ghost.call({ subscribe: { channel: "news:o" } })).subscribe.recoverable).toBeUndefined();
  });

  it("counts calls by kind and outcome, failures by the code the client got, and latency", async () => {
    app.handlers.connect = () => ({ result: { user: "m1" } });
    await (await open()).call({ connect: {} });
    app.handlers.connect = () => "hang";
    await (await open()).call({ connect: {} });
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    /** A sample of `name` with all these labels (in any order, among others). */
    const value = (name: string, labels: string[]) =>
      Number(text.split("\n").find((l) => l.startsWith(name + "{") && labels.every((x) => l.includes(x)))?.split(" ").pop() ?? 0);
    expect(value("realtime_proxy_calls_total", ['call="connect"', 'outcome="result"'])).toBeGreaterThanOrEqual(1);
    expect(value("realtime_proxy_calls_total", ['call="connect"', 'outcome="failed"'])).toBeGreaterThanOrEqual(1);
    expect(value("realtime_proxy_errors_total", ['call="connect"', 'code="108"'])).toBeGreaterThanOrEqual(1);
    expect(value("realtime_proxy_duration_seconds_count", ['call="connect"'])).toBeGreaterThanOrEqual(2);
  });
});

describe("webhooks with protobuf bodies, and tokens beside them", () => {
  it("posts application/x-protobuf and reads a protobuf answer; a subscription token wins over the subscribe webhook", async () => {
    const seen: Array<{ type: string | undefined; channel: string }> = [];
    const app = await WebhookBackend.start(SECRET);
    app.handlers.subscribe = (_body, call) => {
      const req = SubscribeProxyRequest.decode(call.raw);
      seen.push({ type: call.headers["content-type"], channel: req.channel });
      const answer = SubscribeProxyResponse.encode({ result: { info: Buffer.from('{"via":"protobuf"}'), expireAt: "0" }, error: undefined, disconnect: undefined }).finish();
      return { raw: Buffer.from(answer), contentType: "application/x-protobuf" };
    };
    const hub = await startTestHub({
      proxySubscribeUrl: app.url("subscribe"),
      proxyContentType: "protobuf",
      proxySecret: SECRET,
      tokenHmacSecret: "tok",
      namespaces: [{ ...defaultNamespace("room"), presence: true }],
    });
    try {
      const c = await TestWsClient.connect(hub.wsUrl, await signToken("tok", { sub: "t1" }));
      expect((await c.call({ subscribe: { channel: "room:1" } })).error).toBeUndefined();
      expect(seen).toEqual([{ type: "application/x-protobuf", channel: "room:1" }]);
      expect(app.of("subscribe")[0]!.signed).toBe(true);
      const p = await c.call({ presence: { channel: "room:1" } });
      expect(Object.values(p.presence.presence)).toEqual([expect.objectContaining({ user: "t1", chanInfo: { via: "protobuf" } })]);
      // With a subscription token the token decides; the app is not asked.
      const token = await signToken("tok", { sub: "t1", channel: "room:2", info: { via: "token" } });
      expect((await c.call({ subscribe: { channel: "room:2", token } })).error).toBeUndefined();
      expect(seen).toHaveLength(1);
      c.close();
    } finally {
      await hub.stop();
      await app.close();
    }
  });
});
