import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { startRedisServer, which, type ServerProcess } from "../helpers/processes.js";
import { requireTools } from "../helpers/require.js";
import { canRunBrowser, ensureClientBuilt, launchBrowser } from "./browser.js";

declare global {
  interface Window {
    rt: typeof import("../../clients/js/src/index.js");
  }
}

/**
 * What the client README promises about a hub restart: with the default memory history the
 * client learns that it missed messages (client.test.ts), with `--history redis` it gets
 * them. Here: the page's hub stops, another hub on the same Redis takes a publication, and the
 * restarted hub gives it to the page on reconnect.
 */
describe.runIf(canRunBrowser("browser e2e (recovery after a restart)") && requireTools("browser e2e (recovery after a restart)", { "redis-server": which("redis-server") !== null }))(
  "browser client recovery across a hub restart with history in Redis",
  () => {
    let redis: ServerProcess & { url: string };
    let browser: Browser;
    const prefix = `rec${Math.random().toString(36).slice(2, 8)}`;
    const hubWith = (overrides: Parameters<typeof startTestHub>[0] = {}) =>
      startTestHub({ pingIntervalSeconds: 1, history: "redis", redisUrl: redis.url, redisPrefix: prefix, ...overrides });
    beforeAll(async () => {
      ensureClientBuilt();
      redis = await startRedisServer();
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
      await redis?.stop();
    });

    it("--history redis: what was published while the hub was down is recovered, in order, once", async () => {
      const hubs: TestHub[] = [];
      const first = await hubWith();
      hubs.push(first);
      const page = await (await browser.newContext()).newPage();
      try {
        await page.goto(`${first.httpUrl}/health`);
        await page.addScriptTag({ type: "module", content: `import * as rt from "/client/index.js"; window.rt = rt;` });
        await page.waitForFunction(() => window.rt !== undefined);
        await page.evaluate((url) => {
          const w = window as any;
          const c = new window.rt.RealtimeClient(url, { minReconnectDelay: 100, maxReconnectDelay: 400 });
          w.subscribed = [];
          w.pubs = [];
          c.subscribe("chat:restart", { onSubscribed: (s) => w.subscribed.push(s), onPublication: (p) => w.pubs.push(p.data) });
          c.connect();
        }, first.wsUrl);
        await page.waitForFunction(() => (window as any).subscribed.length === 1);
        const publish = (h: TestHub, data: unknown) =>
          h.api.publish({ channel: "chat:restart", data: Buffer.from(JSON.stringify(data)), idempotencyKey: "", skipHistory: false, tags: {} });
        await publish(first, { n: 1 });
        await page.waitForFunction(() => (window as any).pubs.length === 1);
        await first.stop();
        // While the page's hub is down, another node on the same Redis takes two publications.
        const other = await hubWith();
        hubs.push(other);
        await publish(other, { n: 2 });
        await publish(other, { n: 3 });
        const again = await hubWith({ httpAddr: `127.0.0.1:${first.httpPort}` });
        hubs.push(again);
        await page.waitForFunction(() => (window as any).subscribed.length === 2, null, { timeout: 15_000 });
        await publish(again, { n: 4 });
        await page.waitForFunction(() => (window as any).pubs.length === 4);
        await new Promise((r) => setTimeout(r, 200));
        const r = await page.evaluate(() => ({ subscribed: (window as any).subscribed, pubs: (window as any).pubs }));
        expect(r.pubs).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
        expect(r.subscribed[1]).toMatchObject({ wasRecovering: true, recovered: true, epoch: r.subscribed[0].epoch });
      } finally {
        await page.context().close();
        for (const h of hubs) await h.stop();
      }
    });
  },
);
