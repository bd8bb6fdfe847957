import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { signToken } from "../../src/auth/jwt.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { canRunBrowser, ensureClientBuilt, launchBrowser } from "./browser.js";

// docs/screenshots/ only when asked (REALTIME_UPDATE_SCREENSHOTS=1), so a test run leaves the
// checkout clean; otherwise a temporary directory, still exercising the capture.
const SHOTS = process.env.REALTIME_UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL("../../docs/screenshots/", import.meta.url))
  : join(mkdtempSync(join(tmpdir(), "demo-shots-")), "/");

/** Desktop and phone (an iPhone's 390 px width, the height left under a browser's bars). */
const SIZES = {
  desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  phone: { viewport: { width: 390, height: 664 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
} as const;

/**
 * The demo page (demo/index.html) as a first-time user meets it, in Chromium at desktop and
 * phone widths: no console errors, the form and the presence list on screen and not covered,
 * the channel-name check on, a refused connection explained with Send off, and a token
 * passed in the page. `REALTIME_UPDATE_SCREENSHOTS=1` saves the screenshots in docs/screenshots/.
 */
describe.runIf(canRunBrowser("browser e2e (demo page)"))("the demo page at desktop and phone widths", () => {
  let hub: TestHub;
  let secure: TestHub;
  const secret = "demo-secret";
  let browser: Browser;
  beforeAll(async () => {
    ensureClientBuilt();
    hub = await startTestHub();
    secure = await startTestHub({ tokenHmacSecret: secret, allowAnonymous: false });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    await secure?.stop();
  });

  /** A fresh page of `size`, with every console error and page error collected. */
  async function open(size: keyof typeof SIZES, url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await (await browser.newContext(SIZES[size])).newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(url);
    return { page, errors };
  }

  /** Whether the element is inside the viewport and the topmost element at its centre (or holds it). */
  const onScreen = (page: Page, selector: string) =>
    page.$eval(selector, (el) => {
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      const top = document.elementFromPoint(x, y);
      return {
        inside: r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
        topmost: top === el || el.contains(top),
        covering: top && top !== el && !el.contains(top) ? `${top.tagName}#${top.id}` : "",
      };
    });

  async function say(page: Page, text: string): Promise<void> {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  }

  for (const size of ["desktop", "phone"] as const) {
    it(`${size}: no console errors, the form and who is here on screen, the channel check works; screenshot`, async () => {
      const channel = `chat:demo-${size}`;
      // Someone already here, so the shot shows a conversation and two people.
      const { page: bob } = await open("desktop", `${hub.httpUrl}/?name=bob&channel=${channel}&join=1`);
      await bob.waitForSelector("#state.connected");
      await say(bob, "Morning! Did the deploy go out?");
      const { page, errors } = await open(size, `${hub.httpUrl}/`);
      try {
        await page.waitForSelector("#state.connected");
        // Before joining: the whole form is reachable, nothing lies over the Join button.
        expect(await onScreen(page, "#joinBtn")).toEqual({ inside: true, topmost: true, covering: "" });
        expect(await onScreen(page, "#token")).toMatchObject({ inside: true, topmost: true });
        // The pattern compiles (else Chromium logs an error and checks nothing) and follows the hub's rule.
        const validity = await page.$eval("#channel", (el) => {
          const input = el as HTMLInputElement;
          const check = (v: string) => ((input.value = v), input.validity.patternMismatch);
          const r = { bad: check("bad channel"), ok: check("chat:a/b_c-d.e@f=g,h;i+j!k~l"), star: check("chat*") };
          input.value = "chat:lobby";
          return r;
        });
        expect(validity).toEqual({ bad: true, ok: false, star: true });
        await page.fill("#name", "alice");
        await page.fill("#channel", "bad channel");
        await page.click("#joinBtn");
        expect(await page.textContent("#room")).toBe("No channel yet"); // the form refused it
        await page.fill("#channel", channel);
        await page.click("#joinBtn");
        await page.waitForFunction(() => document.querySelectorAll("#presence li").length === 2, null, { timeout: 8000 });
        await page.waitForFunction(() => [...document.querySelectorAll("#messages li.msg .text")].some((e) => e.textContent?.startsWith("Morning")));
        await say(page, "Yes, 10 minutes ago. All green.");
        await bob.waitForFunction(() => [...document.querySelectorAll("#messages li.msg .text")].some((e) => e.textContent === "Yes, 10 minutes ago. All green."));
        await say(bob, "Great, thanks!");
        await page.waitForFunction(() => document.querySelectorAll("#messages li.msg").length === 3);
        // After joining: Join, Send and the presence list all on screen, none covered.
        for (const sel of ["#joinBtn", "#sendBtn", "#text", "#presence"])
          expect([sel, await onScreen(page, sel)]).toEqual([sel, { inside: true, topmost: true, covering: "" }]);
        expect(await page.isEnabled("#sendBtn")).toBe(true);
        // The footer stays below the main area (which scrolls inside itself on a short screen).
        const [footerTop, mainBottom] = await page.evaluate(() => [
          document.getElementById("footer")!.getBoundingClientRect().top,
          document.querySelector("main")!.getBoundingClientRect().bottom,
        ]);
        expect(footerTop).toBeGreaterThanOrEqual(mainBottom - 1);
        await page.waitForTimeout(300); // the hello announcements settle the names
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: `${SHOTS}demo-${size}.png` });
        expect(errors).toEqual([]);
      } finally {
        await page.context().close();
        await bob.context().close();
      }
    });
  }

  it("phone: a refused connection (no token outside --dev) says why and turns Send off; a token in the field connects", async () => {
    const { page, errors } = await open("phone", `${secure.httpUrl}/`);
    try {
      await page.waitForSelector("#state.disconnected");
      await page.waitForSelector("#notice:not([hidden])");
      expect(await page.textContent("#notice")).toMatch(/refused the connection.*code 101.*realtime-hub token --user alice.*\?token=/s);
      expect(await onScreen(page, "#notice")).toMatchObject({ inside: true, topmost: true });
      await page.fill("#name", "alice");
      await page.click("#joinBtn");
      // Joining retries with the (empty) token: refused again, and Send stays off.
      await page.waitForSelector("#state.disconnected");
      await page.waitForSelector("#notice:not([hidden])");
      expect(await page.isDisabled("#sendBtn")).toBe(true);
      expect(await page.isDisabled("#text")).toBe(true);
      await page.fill("#token", await signToken(secret, { sub: "alice" }, 600));
      await page.click("#joinBtn");
      await page.waitForSelector("#state.connected");
      expect(await page.isHidden("#notice")).toBe(true);
      expect(await page.isEnabled("#sendBtn")).toBe(true);
      await page.waitForFunction(() => document.querySelectorAll("#presence li").length === 1);
      expect(Object.values((await secure.api.presence({ channel: "chat:lobby" })).presence).map((p) => p.user)).toEqual(["alice"]);
      expect(errors).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("?token= in the URL connects, and the links to other transports leave it out", async () => {
    const token = await signToken(secret, { sub: "bob" }, 600);
    const { page, errors } = await open("desktop", `${secure.httpUrl}/?name=bob&channel=chat:tok&join=1&token=${token}`);
    try {
      await page.waitForSelector("#state.connected");
      expect(await page.inputValue("#token")).toBe(token);
      const links = await page.$$eval("#footer a", (as) => as.map((a) => (a as HTMLAnchorElement).href));
      expect(links.length).toBe(2);
      for (const l of links) expect(l).not.toContain("token=");
      expect(errors).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("long-polling: a receive-only tab reads the chat", async () => {
    const { page: writer } = await open("desktop", `${hub.httpUrl}/?name=erin&channel=chat:lp&join=1`);
    const { page, errors } = await open("phone", `${hub.httpUrl}/?name=viewer&channel=chat:lp&join=1&transport=longpoll`);
    try {
      await page.waitForSelector("#state.connected");
      expect(await page.textContent("#state")).toBe("connected · longpoll");
      expect(await page.isDisabled("#sendBtn")).toBe(true);
      await writer.waitForSelector("#state.connected");
      await say(writer, "over long-polling?");
      await page.waitForFunction(() => [...document.querySelectorAll("#messages li.msg .text")].some((e) => e.textContent === "over long-polling?"));
      expect(errors).toEqual([]);
    } finally {
      await page.context().close();
      await writer.context().close();
    }
  });
});
