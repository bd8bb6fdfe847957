import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { signToken } from "../../src/auth/jwt.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { canRunBrowser, launchBrowser } from "./browser.js";

const KEY = "admin-e2e-key";
const TOKEN = "admin-e2e-token-0123456789";
const SECRET = "admin-e2e-token-secret";
/** A payload that runs script wherever it is inserted as markup. */
const XSS = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;

const SIZES = {
  desktop: { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 },
  phone: { viewport: { width: 390, height: 664 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
} as const;

/**
 * The admin page (admin/index.html) in Chromium against a hub with `admin` on: signing in with
 * the API key or the admin token, the nodes, a channel and its count, a WebSocket client's
 * presence, a live publication, and the publish, disconnect and unsubscribe actions as the
 * WebSocket clients see them. User data (a channel's payload) is shown as text, never run.
 */
describe.runIf(canRunBrowser("browser e2e (admin page)"))("the admin page", () => {
  let hub: TestHub;
  let browser: Browser;
  beforeAll(async () => {
    hub = await startTestHub({ apiKey: KEY, admin: true, adminToken: TOKEN, tokenHmacSecret: SECRET });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  /** A fresh page of `size` at /admin, with console errors (CSP reports among them), page errors and failed requests collected. */
  async function open(size: keyof typeof SIZES): Promise<{ page: Page; errors: string[] }> {
    const page = await (await browser.newContext(SIZES[size])).newPage();
    page.setDefaultTimeout(8000);
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    // The actions ask before they act.
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${hub.httpUrl}/admin`);
    return { page, errors };
  }

  async function signIn(page: Page, secret: string, kind: "apikey" | "admin"): Promise<void> {
    await page.getByLabel("API key or admin token").fill(secret);
    await page.getByLabel("Kind").selectOption(kind);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForSelector("#signed-in:not([hidden])");
  }

  async function user(name: string, channel: string): Promise<TestWsClient> {
    const c = await TestWsClient.connect(hub.wsUrl, await signToken(SECRET, { sub: name }, 600));
    expect((await c.call({ subscribe: { channel } })).error).toBeUndefined();
    return c;
  }

  it("desktop: signs in with the API key; nodes, channel count, presence, a live publication shown as text; publish and disconnect reach the client", async () => {
    const channel = "room:admin-e2e";
    const alice = await user("alice", channel);
    const { page, errors } = await open("desktop");
    try {
      // Before signing in: only the form, nothing stored.
      expect(await page.isVisible("#channels")).toBe(false);
      await page.getByLabel("API key or admin token").fill("wrong");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForFunction(() => /Sign-in failed: wrong API key/.test(document.getElementById("status")!.textContent ?? ""));
      await signIn(page, KEY, "apikey");

      // Nodes and health.
      await page.waitForFunction((id) => document.querySelector("#nodes tbody")!.textContent.includes(id), hub.node.id);
      expect(await page.textContent("#health")).toMatch(/: ok, broker memory healthy/);

      // Channels with their counts, filtered by pattern.
      await page.getByLabel("Pattern (* matches any characters)").fill("room:*");
      await page.getByRole("button", { name: "List" }).click();
      const row = page.locator("#channels tbody tr", { hasText: channel });
      await row.waitFor();
      expect(await row.locator("td").nth(1).textContent()).toBe("1");

      // The channel: alice's presence.
      await page.getByRole("button", { name: `Open channel ${channel}` }).click();
      await page.locator("#presence tbody tr", { hasText: "alice" }).waitFor();
      expect(await page.textContent("#stats")).toBe("(1 clients, 1 users)");

      // Live publications: what alice publishes arrives, its markup shown as text and not run.
      await page.getByRole("button", { name: "Watch live" }).click();
      await page.waitForFunction(() => document.getElementById("live-state")!.textContent.startsWith("Watching"));
      expect((await alice.call({ publish: { channel, data: { text: XSS } } })).error).toBeUndefined();
      await page.waitForFunction(() => document.querySelector("#live li pre")?.textContent?.includes("<img src=x"));
      expect(await page.textContent("#live li .meta")).toMatch(/from alice/);
      expect(await page.evaluate(() => [document.querySelectorAll("#live img, #live script").length, (window as { __xss?: number }).__xss])).toEqual([0, undefined]);

      // Publish from the page: alice gets it, and so does the live view.
      await page.getByLabel("Data (JSON)").fill('{"text": "from the admin page"}');
      await page.getByRole("button", { name: "Publish" }).click();
      await alice.waitFor((m) => m.push?.pub?.data?.text === "from the admin page");
      await page.waitForFunction(() => document.querySelector("#live li pre")?.textContent?.includes("from the admin page"));
      expect(await page.textContent("#live li .meta")).toMatch(/from a backend/);

      // Disconnect alice from her presence row.
      await page.getByRole("button", { name: "Disconnect user alice" }).click();
      expect(await alice.waitClosed()).toBeGreaterThanOrEqual(3000);
      await page.waitForFunction(() => /Disconnected user alice/.test(document.getElementById("status")!.textContent ?? ""));
      await page.waitForFunction(() => document.getElementById("presence-note")!.textContent === "Nobody is present.");

      // The key lives in this tab's sessionStorage only; a reload keeps the tab signed in.
      expect(await page.evaluate(() => [localStorage.length, document.cookie, JSON.parse(sessionStorage.getItem("realtime-hub-admin")!).kind])).toEqual([0, "", "apikey"]);
      await page.reload();
      await page.waitForSelector("#signed-in:not([hidden])");
      // Stopping the live view (and the reload) ends the stream on the hub.
      await expect.poll(async () => (await hub.api.channels({ pattern: channel })).channels[channel]?.numClients ?? 0).toBe(0);
      // The wrong key's 401 only: no CSP report (the page's script and style run under it), no page error.
      expect(errors).toEqual(["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
    } finally {
      alice.close();
      await page.context().close();
    }
  });

  it("phone: signs in with the admin token, fits 390 px, unsubscribes a user; the token cannot erase users", async () => {
    const channel = "room:admin-phone";
    const bob = await user("bob", channel);
    const { page, errors } = await open("phone");
    try {
      await signIn(page, TOKEN, "admin");
      await page.locator("#nodes tbody tr").first().waitFor();
      // Nothing wider than the screen: tables scroll inside their box.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
      await page.getByLabel("Channel name").fill(channel);
      await page.getByRole("button", { name: "Open", exact: true }).click();
      await page.locator("#presence tbody tr", { hasText: "bob" }).waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
      await page.getByRole("button", { name: `Unsubscribe user bob from ${channel}` }).click();
      expect((await bob.waitFor((m) => m.push?.unsubscribe)).push).toMatchObject({ channel, unsubscribe: { code: 2000 } });
      // The same token from the page's origin: EraseUser needs the API key.
      const status = await page.evaluate(async (token) => {
        const r = await fetch("/api/erase_user", { method: "POST", headers: { Authorization: `admin ${token}` }, body: '{"user":"bob"}' });
        return r.status;
      }, TOKEN);
      expect(status).toBe(403);
      expect(errors.filter((e) => !e.includes("403"))).toEqual([]);
    } finally {
      bob.close();
      await page.context().close();
    }
  });
});
