import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { defaultNamespace } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { signToken } from "../../src/auth/jwt.js";
import { canRunBrowser, ensureClientBuilt, launchBrowser } from "./browser.js";

/**
 * The browser client (/client/index.js, as the hub serves it) in real Chromium against a real
 * in-process hub: every call runs in the page through page.evaluate.
 */

// Page-side globals installed by newPage(): the client module and a polling helper.
declare global {
  interface Window {
    rt: typeof import("../../clients/js/src/index.js");
    waitFor: (cond: () => unknown, ms?: number) => Promise<void>;
    mintToken: () => Promise<string>;
  }
}

describe.runIf(canRunBrowser("browser e2e (client)"))("browser client against the hub", () => {
  let hub: TestHub;
  let browser: Browser;
  beforeAll(async () => {
    ensureClientBuilt();
    // Pings every second: every test also proves the client answers them (silent ones are cut after 2 s).
    hub = await startTestHub({ pingIntervalSeconds: 1 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  /** A blank same-origin page of `on` with the client module loaded as `window.rt`. */
  async function newPage(on: TestHub = hub): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (err) => console.error("page error", err));
    await page.goto(`${on.httpUrl}/health`);
    await page.addScriptTag({
      type: "module",
      content: `
        import * as rt from "/client/index.js";
        window.waitFor = async (cond, ms = 8000) => {
          const end = Date.now() + ms;
          while (!cond()) {
            if (Date.now() > end) throw new Error("timed out waiting for " + cond);
            await new Promise((r) => setTimeout(r, 10));
          }
        };
        window.rt = rt;`,
    });
    await page.waitForFunction(() => window.rt !== undefined);
    return page;
  }
  const publish = (h: TestHub, channel: string, data: unknown) =>
    h.api.publish({ channel, data: Buffer.from(JSON.stringify(data)), idempotencyKey: "", skipHistory: false, tags: {} });
  const presenceIds = async (channel: string) => Object.keys((await hub.api.presence({ channel })).presence);

  it("publishes, reads presence, stats and history, reports errors, unsubscribes", async () => {
    const page = await newPage();
    const r = await page.evaluate(async (url) => {
      const c = new window.rt.RealtimeClient(url, { name: "e2e" });
      const pubs: any[] = [];
      const joins: string[] = [];
      const subscribed: any[] = [];
      const sub = c.subscribe("api:one", {
        onPublication: (p) => pubs.push(p),
        onJoin: (i) => joins.push(i.client),
        onSubscribed: (ctx) => subscribed.push(ctx),
      });
      c.connect();
      // Made while connecting: they wait for the connection, and go after the subscribe.
      const results = await Promise.all([sub.publish({ n: 1 }), sub.publish({ n: 2 }), sub.publish({ n: 3 })]);
      await window.waitFor(() => pubs.length === 3);
      const presence = await sub.presence();
      const stats = await sub.presenceStats();
      const history = await sub.history({ limit: 2, reverse: true });
      const position = await sub.history();
      const badPublish = await c.publish("bad channel", 1).catch((e) => ({ name: e.name, code: e.code, message: e.message }));
      let badSubscribe: any;
      const bad = c.subscribe("bad channel", { onError: (e) => (badSubscribe = { code: e.code }) });
      await window.waitFor(() => badSubscribe);
      await window.waitFor(() => joins.length === 1);
      const subState = sub.state;
      await sub.unsubscribe();
      return {
        clientId: c.clientId,
        results,
        pubs: pubs.map((p) => ({ data: p.data, offset: p.offset, client: p.info?.client, epochOk: p.epoch === results[0].epoch, timeOk: Math.abs(Date.now() - p.time) < 60_000 })),
        joins,
        subscribed,
        presence: Object.values(presence),
        stats,
        history: history.publications.map((p) => p.data),
        position: { offset: position.offset, count: position.publications.length },
        badPublish,
        badSubscribe,
        badState: bad.state,
        badKept: c.getSubscription("bad channel") !== undefined,
        subState,
        afterState: sub.state,
      };
    }, hub.wsUrl);
    expect(r.results.map((x) => x.offset)).toEqual(["1", "2", "3"]);
    expect(r.results[0].epoch).not.toBe("");
    expect(r.pubs).toEqual([1, 2, 3].map((n) => ({ data: { n }, offset: String(n), client: r.clientId, epochOk: true, timeOk: true })));
    expect(r.joins).toEqual([r.clientId]);
    expect(r.subscribed).toEqual([{ recoverable: true, wasRecovering: false, recovered: false, epoch: r.results[0].epoch, offset: "0" }]);
    expect(r.presence).toEqual([{ user: "", client: r.clientId }]);
    expect(r.stats).toEqual({ numClients: 1, numUsers: 1 });
    expect(r.history).toEqual([{ n: 3 }, { n: 2 }]);
    expect(r.position).toEqual({ offset: "3", count: 0 });
    expect(r.badPublish).toMatchObject({ name: "RealtimeError", code: 107 });
    expect(r.badSubscribe).toEqual({ code: 107 });
    expect([r.badState, r.badKept]).toEqual(["unsubscribed", false]);
    expect([r.subState, r.afterState]).toEqual(["subscribed", "unsubscribed"]);
    expect(await presenceIds("api:one")).toEqual([]);
    await page.context().close();
  });

  it("answers the hub's pings, so an idle connection stays up", async () => {
    const page = await newPage();
    const r = await page.evaluate(async (url) => {
      const c = new window.rt.RealtimeClient(url);
      let drops = 0;
      c.on("disconnected", () => drops++);
      c.connect();
      await window.waitFor(() => c.state === "connected");
      const first = c.clientId;
      await new Promise((res) => setTimeout(res, 3500)); // the hub cuts clients silent for 2 s
      return { same: c.clientId === first, state: c.state, drops };
    }, hub.wsUrl);
    expect(r).toEqual({ same: true, state: "connected", drops: 0 });
    await page.context().close();
  });

  it("reconnects to a restarted hub, resubscribes, and says the history was lost", async () => {
    const first = await startTestHub({ pingIntervalSeconds: 1 });
    const page = await newPage(first);
    await page.evaluate((url) => {
      const c = new window.rt.RealtimeClient(url, { minReconnectDelay: 100, maxReconnectDelay: 400 });
      const w = window as any;
      w.events = [];
      w.pubs = [];
      c.on("disconnected", (d) => w.events.push({ disconnected: d }));
      c.on("connected", (ctx) => w.events.push({ connected: ctx.transport }));
      c.subscribe("restart:1", { onSubscribed: (s) => w.events.push({ subscribed: s }), onPublication: (p) => w.pubs.push(p.data) });
      c.connect();
      w.c = c;
    }, first.wsUrl);
    await page.waitForFunction(() => (window as any).c.getSubscription("restart:1").state === "subscribed");
    await publish(first, "restart:1", { before: true });
    await page.waitForFunction(() => (window as any).pubs.length === 1);
    await first.stop();
    // Same port, fresh memory history: a new epoch, so recovery cannot succeed.
    const second = await startTestHub({ pingIntervalSeconds: 1, httpAddr: `127.0.0.1:${first.httpPort}` });
    try {
      await page.waitForFunction(() => (window as any).events.filter((e: any) => e.subscribed).length === 2, null, { timeout: 15_000 });
      await publish(second, "restart:1", { after: true });
      await page.waitForFunction(() => (window as any).pubs.length === 2);
      const r = await page.evaluate(() => ({ events: (window as any).events, pubs: (window as any).pubs }));
      expect(r.pubs).toEqual([{ before: true }, { after: true }]);
      expect(r.events[0]).toEqual({ connected: "websocket" });
      expect(r.events[1].subscribed).toMatchObject({ wasRecovering: false });
      expect(r.events[2]).toEqual({ disconnected: { code: 3001, reason: "shutdown", reconnect: true } });
      expect(r.events[3]).toEqual({ connected: "websocket" });
      expect(r.events[4].subscribed).toMatchObject({ wasRecovering: true, recovered: false });
      expect(r.events[4].subscribed.epoch).not.toBe(r.events[1].subscribed.epoch);
    } finally {
      await page.context().close();
      await second.stop();
    }
  });

  it("SSE: receives on several channels, sends commands (POST /connection/emulation), recovers after a drop", async () => {
    const page = await newPage();
    await page.evaluate((url) => {
      const w = window as any;
      const c = new window.rt.RealtimeClient(url, { transport: "sse", minReconnectDelay: 100 });
      w.got = [];
      w.connects = 0;
      c.on("connected", () => w.connects++);
      for (const ch of ["sse:a", "sse:b"]) c.subscribe(ch, { onPublication: (p) => w.got.push(`${ch}=${(p.data as { n: number }).n}`) });
      c.connect();
      w.c = c;
    }, hub.wsUrl);
    await page.waitForFunction(() => ["sse:a", "sse:b"].every((ch) => (window as any).c.getSubscription(ch).state === "subscribed"));
    expect(await page.evaluate(() => [(window as any).connects, (window as any).c.transport])).toEqual([1, "sse"]); // one stream for both
    await publish(hub, "sse:a", { n: 1 });
    await publish(hub, "sse:b", { n: 2 });
    await page.waitForFunction(() => (window as any).got.length === 2);
    // Into a channel it does not receive, so `got` stays as it is.
    const published = await page.evaluate(() => (window as any).c.publish("sse:elsewhere", 1).catch((e: any) => e.code));
    expect(published).toEqual({ offset: "1", epoch: expect.any(String) });
    // Drop the stream, publish while it is down: the reconnect resumes each channel from its position.
    const id = await page.evaluate(() => (window as any).c.clientId);
    hub.node.disconnectUser({ user: "", client: id, code: 3013, reason: "test" });
    await publish(hub, "sse:a", { n: 3 });
    await publish(hub, "sse:b", { n: 4 });
    await page.waitForFunction(() => (window as any).got.length === 4, null, { timeout: 10_000 });
    await publish(hub, "sse:a", { n: 5 });
    await page.waitForFunction(() => (window as any).got.length === 5);
    await new Promise((r) => setTimeout(r, 200));
    const r = await page.evaluate(() => ({ got: (window as any).got, connects: (window as any).connects, same: (window as any).c.clientId }));
    expect(r.got).toEqual(["sse:a=1", "sse:b=2", "sse:a=3", "sse:b=4", "sse:a=5"]);
    expect(r.connects).toBe(2);
    expect(r.same).not.toBe(id);
    await page.context().close();
  });

  it("transport auto falls back to SSE when the WebSocket cannot open", async () => {
    const page = await newPage();
    const r = await page.evaluate(
      async ({ wsBase, sseUrl }) => {
        const c = new window.rt.RealtimeClient(`${wsBase}/connection/blocked`, { transport: "auto", sseUrl, minReconnectDelay: 50, maxReconnectDelay: 100 });
        const got: unknown[] = [];
        const sub = c.subscribe("auto:x", { onPublication: (p) => got.push(p.data) });
        c.connect();
        await window.waitFor(() => sub.state === "subscribed");
        (window as any).got = got;
        return c.transport;
      },
      { wsBase: hub.wsUrl.replace("/connection/websocket", ""), sseUrl: `${hub.httpUrl}/connection/sse` },
    );
    expect(r).toBe("sse");
    await publish(hub, "auto:x", { ok: 1 });
    await page.waitForFunction(() => (window as any).got.length === 1);
    await page.context().close();
  });

  it("connects with a token, refreshes it before it expires, and stops when refused", async () => {
    const secret = "e2e-secret";
    const secure = await startTestHub({ pingIntervalSeconds: 1, tokenHmacSecret: secret, allowAnonymous: false });
    const page = await newPage(secure);
    let minted = 0;
    await page.exposeFunction("mintToken", () => {
      minted++;
      // 4 s: the client refreshes at 80% of the ttl it is told (3 s, rounded down), which
      // leaves a loaded machine more than a second for the round trip.
      return signToken(secret, { sub: "user-7", info: { name: "Seven" } }, 4);
    });
    try {
      const r = await page.evaluate(async (url) => {
        const c = new window.rt.RealtimeClient(url, { getToken: () => window.mintToken() });
        const drops: unknown[] = [];
        c.on("disconnected", (d) => drops.push(d));
        const sub = c.subscribe("tok:1");
        c.connect();
        await window.waitFor(() => sub.state === "subscribed");
        const id = c.clientId;
        const presence = await sub.presence();
        await new Promise((res) => setTimeout(res, 5500)); // past the first token's expiry
        const alive = c.state === "connected" && c.clientId === id;

        const anon = new window.rt.RealtimeClient(url, { minReconnectDelay: 50 });
        const errors: number[] = [];
        const finals: unknown[] = [];
        anon.on("error", (e) => errors.push(e.code));
        anon.on("disconnected", (d) => finals.push(d.reconnect));
        anon.connect();
        await window.waitFor(() => anon.state === "disconnected");
        await new Promise((res) => setTimeout(res, 300));
        return { presence: Object.values(presence), alive, drops, errors, finals, anonState: anon.state };
      }, secure.wsUrl);
      expect(r.presence).toEqual([expect.objectContaining({ user: "user-7", connInfo: { name: "Seven" } })]);
      expect(r.alive).toBe(true);
      expect(r.drops).toEqual([]); // a drop shows its code (3005 expired, 3012 no ping …)
      expect(minted).toBeGreaterThanOrEqual(2); // connect + at least one refresh
      expect(r.errors).toEqual([101]);
      expect(r.finals).toEqual([false]);
      expect(r.anonState).toBe("disconnected");
    } finally {
      await page.context().close();
      await secure.stop();
    }
  });

  it("refreshes a private subscription's token before it expires (sub_refresh), so the subscription lives on", async () => {
    const secret = "e2e-secret";
    const secure = await startTestHub({
      pingIntervalSeconds: 1,
      tokenHmacSecret: secret,
      namespaces: [{ ...defaultNamespace("vip"), private: true }],
    });
    const page = await newPage(secure);
    let minted = 0;
    await page.exposeFunction("mintToken", () => {
      minted++;
      return signToken(secret, { sub: "", channel: "vip:1" }, 4);
    });
    try {
      await page.evaluate((url) => {
        const c = new window.rt.RealtimeClient(url);
        const w = window as any;
        w.got = [];
        w.unsubscribed = [];
        w.sub = c.subscribe("vip:1", {
          getToken: () => window.mintToken(),
          onPublication: (p: { data: unknown }) => w.got.push(p.data),
          onUnsubscribed: (u: unknown) => w.unsubscribed.push(u),
        });
        c.connect();
        return window.waitFor(() => w.sub.state === "subscribed");
      }, secure.wsUrl);
      await new Promise((res) => setTimeout(res, 6000)); // past the first token's expiry, and the second's
      await publish(secure, "vip:1", { still: "here" });
      const r = await page.evaluate(async () => {
        const w = window as any;
        await window.waitFor(() => w.got.length > 0);
        return { got: w.got, unsubscribed: w.unsubscribed, state: w.sub.state };
      });
      expect(r).toEqual({ got: [{ still: "here" }], unsubscribed: [], state: "subscribed" });
      expect(minted).toBeGreaterThanOrEqual(3); // subscribe + at least two refreshes
    } finally {
      await page.context().close();
      await secure.stop();
    }
  });
});
