import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { WebhookBackend } from "../helpers/webhook-backend.js";
import { canRunBrowser, launchBrowser } from "./browser.js";

/**
 * The browser client's transports in Chromium, behind a proxy that lets through only some of
 * them (as corporate proxies do): "auto" falls back WebSocket -> SSE -> long-poll, and
 * subscribe, publish and rpc work over each (SSE and long-poll post their commands). The page comes from the proxy's
 * origin and loads the client as one file from the hub's (/client.js, CORS).
 */

declare global {
  interface Window {
    rt: typeof import("../../clients/js/src/index.js");
    waitFor: (cond: () => unknown, ms?: number) => Promise<void>;
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What the proxy does with each transport: pass it, refuse it (403), or buffer it (SSE: hold every byte). */
interface ProxyRules {
  websocket: "pass" | "refuse";
  sse: "pass" | "refuse" | "buffer";
}

/** An HTTP proxy on a free loopback port in front of `hub`, by `rules`. */
async function startProxy(hub: TestHub, rules: ProxyRules): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const sse = (req.url ?? "").startsWith("/connection/sse");
    if (sse && rules.sse === "refuse") return void res.writeHead(403).end("blocked by proxy");
    const up = request(`${hub.httpUrl}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      if (sse && rules.sse === "buffer") return void upRes.resume(); // swallowed: the page waits forever
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on("error", () => res.destroy());
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (rules.websocket === "refuse") return void socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    const upstream = connect(hub.httpPort, "127.0.0.1", () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join("\r\n") + "\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe.runIf(canRunBrowser("browser e2e (client fallbacks)"))("browser client transports and fallbacks", () => {
  let hub: TestHub;
  let app: WebhookBackend;
  let browser: Browser;
  beforeAll(async () => {
    execFileSync(process.execPath, ["clients/js/bundle.mjs", "--if-stale"], { cwd: ROOT, stdio: "inherit", timeout: 60_000 });
    app = await WebhookBackend.start();
    app.handlers.rpc = (body: { method: string; data: { a: number; b: number } }) =>
      body.method === "sum" ? { result: { data: { sum: body.data.a + body.data.b } } } : { error: { code: 104, message: "no such method" } };
    hub = await startTestHub({ pingIntervalSeconds: 1, longPollTimeoutSeconds: 2, proxyRpcUrl: app.url("rpc") });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    await app?.close();
  });

  /** A page of `origin` with the client loaded from the hub's /client.js as `window.rt`. */
  async function newPage(origin: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (err) => console.error("page error", err));
    await page.goto(`${origin}/health`);
    await page.addScriptTag({
      type: "module",
      content: `
        import * as rt from "${hub.httpUrl}/client.js";
        window.waitFor = async (cond, ms = 8000) => {
          const end = Date.now() + ms;
          while (!cond()) {
            if (Date.now() > end) throw new Error("timed out waiting for " + cond);
            await new Promise((r) => setTimeout(r, 10));
          }
        };
        window.rt = rt;`,
    });
    await page.waitForFunction(() => window.rt !== undefined, null, { timeout: 5000 });
    return page;
  }
  const publish = (channel: string, data: unknown) =>
    hub.api.publish({ channel, data: Buffer.from(JSON.stringify(data)), idempotencyKey: "", skipHistory: false, tags: {} });

  /**
   * Behind `rules`, an "auto" client subscribes to `channel`, and a WebSocket client straight
   * to the hub publishes into it; returns the transport the first one ended on, what it got,
   * and how its own publish and rpc went.
   */
  async function throughProxy(rules: ProxyRules, channel: string) {
    const proxy = await startProxy(hub, rules);
    const page = await newPage(proxy.url);
    try {
      const r = await page.evaluate(
        async ({ viaProxy, direct, channel }) => {
          const { RealtimeClient } = window.rt;
          const c = new RealtimeClient(viaProxy, { transport: "auto", minReconnectDelay: 50, maxReconnectDelay: 200, timeout: 1500 });
          const got: unknown[] = [];
          const transports: string[] = [];
          c.on("connected", (ctx) => transports.push(ctx.transport));
          const sub = c.subscribe(channel, { onPublication: (p) => got.push(p.data) });
          c.connect();
          await window.waitFor(() => sub.state === "subscribed", 15_000);
          // Another tab, straight to the hub over WebSocket, publishes.
          const other = new RealtimeClient(direct);
          other.connect();
          await other.publish(channel, { from: "other" });
          await window.waitFor(() => got.length === 1);
          const outcome = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e) => ({ code: e.code }));
          const own = await outcome(sub.publish({ from: "self" }));
          const rpc = await outcome(c.rpc("sum", { a: 2, b: 3 }));
          const badRpc = await outcome(c.rpc("nope", {}));
          await new Promise((res) => setTimeout(res, 200)); // an own publication, if any, arrives
          other.disconnect();
          c.disconnect();
          return { transport: transports.at(-1), transports, got, own, rpc, badRpc };
        },
        { viaProxy: proxy.url.replace("http:", "ws:") + "/connection/websocket", direct: hub.wsUrl, channel },
      );
      return r;
    } finally {
      await page.context().close();
      await proxy.close();
    }
  }

  it("WebSocket through: publish, subscribe and rpc (result and error) over it", async () => {
    const r = await throughProxy({ websocket: "pass", sse: "pass" }, "fb:ws");
    expect(r.transports).toEqual(["websocket"]);
    expect(r.got).toEqual([{ from: "other" }, { from: "self" }]);
    expect(r.own).toEqual({ ok: { offset: "2", epoch: expect.any(String) } });
    expect(r.rpc).toEqual({ ok: { sum: 5 } });
    expect(r.badRpc).toEqual({ code: 104 });
    expect(app.of("rpc").map((c) => c.body.method)).toEqual(expect.arrayContaining(["sum", "nope"]));
  });

  it("WebSocket blocked: falls back to SSE; publish and rpc (result and error) go as POSTs, replies on the stream", async () => {
    const r = await throughProxy({ websocket: "refuse", sse: "pass" }, "fb:sse");
    expect(r.transports).toEqual(["sse"]);
    expect(r.got).toEqual([{ from: "other" }, { from: "self" }]);
    expect(r.own).toEqual({ ok: { offset: "2", epoch: expect.any(String) } });
    expect(r.rpc).toEqual({ ok: { sum: 5 } });
    expect(r.badRpc).toEqual({ code: 104 });
  });

  it("WebSocket and SSE blocked: falls back to long-polling; publish and rpc (result and error) go as POSTs, replies with the polls", async () => {
    const r = await throughProxy({ websocket: "refuse", sse: "refuse" }, "fb:poll");
    expect(r.transports).toEqual(["longpoll"]);
    expect(r.got).toEqual([{ from: "other" }, { from: "self" }]);
    expect(r.own).toEqual({ ok: { offset: "2", epoch: expect.any(String) } });
    expect(r.rpc).toEqual({ ok: { sum: 5 } });
    expect(r.badRpc).toEqual({ code: 104 });
  });

  it("SSE held back by a buffering proxy: gives up on the silent stream and long-polls", async () => {
    const r = await throughProxy({ websocket: "refuse", sse: "buffer" }, "fb:buffered");
    expect(r.transports).toEqual(["longpoll"]);
    expect(r.got).toEqual([{ from: "other" }, { from: "self" }]);
    expect([r.rpc, r.badRpc]).toEqual([{ ok: { sum: 5 } }, { code: 104 }]);
  });

  it("long-polling: several channels in one session, pings keep it alive, recovery after a drop, subscribe, presence and history as commands", async () => {
    const page = await newPage(hub.httpUrl);
    try {
      await page.evaluate((url) => {
        const w = window as any;
        const c = new window.rt.RealtimeClient(url, { transport: "longpoll", minReconnectDelay: 100 });
        w.got = [];
        w.connects = 0;
        c.on("connected", () => w.connects++);
        for (const ch of ["lp:a", "lp:b"]) c.subscribe(ch, { onPublication: (p) => w.got.push(`${ch}=${(p.data as { n: number }).n}`) });
        c.connect();
        w.c = c;
      }, hub.wsUrl);
      await page.waitForFunction(() => ["lp:a", "lp:b"].every((ch) => (window as any).c.getSubscription(ch).state === "subscribed"), null, { timeout: 8000 });
      const id = await page.evaluate(() => (window as any).c.clientId as string);
      expect((await hub.api.presence({ channel: "lp:a" })).presence[id]).toBeDefined();
      await publish("lp:a", { n: 1 });
      await publish("lp:b", { n: 2 });
      await page.waitForFunction(() => (window as any).got.length === 2);
      // Longer than a poll's wait (2 s) and the hub's silence limit for pings (1 s): still the same session.
      await new Promise((r) => setTimeout(r, 3500));
      expect(await page.evaluate(() => [(window as any).c.clientId, (window as any).connects, (window as any).c.transport])).toEqual([id, 1, "longpoll"]);
      // Dropped by the hub; what is published meanwhile comes with the next session.
      hub.node.disconnectUser({ user: "", client: id, code: 3013, reason: "test" });
      await publish("lp:a", { n: 3 });
      await publish("lp:b", { n: 4 });
      await page.waitForFunction(() => (window as any).got.length === 4, null, { timeout: 10_000 });
      await page.waitForFunction(() => (window as any).c.state === "connected", null, { timeout: 8000 });
      const id2 = await page.evaluate(() => (window as any).c.clientId as string);
      // A new subscription is a subscribe command on the same session (no reopen).
      await page.evaluate(() => {
        const w = window as any;
        w.c.subscribe("lp:c", { onPublication: (p: { data: { n: number } }) => w.got.push(`lp:c=${p.data.n}`) });
      });
      await page.waitForFunction(() => (window as any).c.getSubscription("lp:c").state === "subscribed", null, { timeout: 8000 });
      await publish("lp:c", { n: 5 });
      await publish("lp:a", { n: 6 });
      await page.waitForFunction(() => (window as any).got.length === 6, null, { timeout: 8000 });
      const r = await page.evaluate(async () => {
        const c = (window as any).c;
        const presence = Object.keys(await c.presence("lp:c"));
        const history = (await c.history("lp:c", { limit: 10 })).publications.map((p: { data: unknown }) => p.data);
        const stats = await c.presenceStats("lp:a");
        return { got: (window as any).got, connects: (window as any).connects, id: c.clientId, presence, history, stats };
      });
      expect(r.got).toEqual(["lp:a=1", "lp:b=2", "lp:a=3", "lp:b=4", "lp:c=5", "lp:a=6"]);
      expect(r.connects).toBe(2);
      expect(r.id).not.toBe(id);
      expect(r.id).toBe(id2);
      expect(r.presence).toEqual([id2]);
      expect(r.history).toEqual([{ n: 5 }]);
      expect(r.stats).toEqual({ numClients: 1, numUsers: 1 });
      await page.evaluate(() => (window as any).c.disconnect());
      // Its session is closed by the hub once it stops polling; presence follows.
    } finally {
      await page.context().close();
    }
  });

  it("long-polling reads a refusal: no token where one is needed stops with 101, without retrying", async () => {
    const secure = await startTestHub({ tokenHmacSecret: "fb-secret", allowAnonymous: false });
    const page = await newPage(secure.httpUrl);
    try {
      const r = await page.evaluate(async (url) => {
        const c = new window.rt.RealtimeClient(url, { transport: "longpoll", minReconnectDelay: 50 });
        const errors: number[] = [];
        const finals: boolean[] = [];
        c.on("error", (e) => errors.push(e.code));
        c.on("disconnected", (d) => finals.push(d.reconnect));
        c.subscribe("any:thing");
        c.connect();
        await window.waitFor(() => c.state === "disconnected");
        await new Promise((res) => setTimeout(res, 300));
        return { errors, finals, state: c.state };
      }, secure.wsUrl);
      expect(r).toEqual({ errors: [101], finals: [false], state: "disconnected" });
    } finally {
      await page.context().close();
      await secure.stop();
    }
  });
});
