import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { canRunBrowser, ensureClientBuilt, launchBrowser } from "./browser.js";

/** The demo page (demo/index.html) in real Chromium, two or more tabs against one hub. */
describe.runIf(canRunBrowser("browser e2e (demo chat)"))("demo chat in a real browser", () => {
  let hub: TestHub;
  let browser: Browser;
  beforeAll(async () => {
    ensureClientBuilt();
    hub = await startTestHub();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  /** A fresh tab (own context, so own sessionStorage) that joins `channel` as `name`. */
  async function open(name: string, channel: string, query = ""): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 720 } })).newPage();
    page.on("pageerror", (err) => console.error(`[${name}] page error`, err));
    await page.goto(`${hub.httpUrl}/${query}`);
    await page.fill("#name", name);
    await page.fill("#channel", channel);
    await page.click("#joinBtn");
    await page.waitForSelector("#state.connected");
    return page;
  }
  async function say(page: Page, text: string): Promise<void> {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  }
  /** "who: text" of every chat message on the page. */
  const messages = (p: Page) =>
    p.$$eval("#messages li.msg", (els) => els.map((e) => `${e.querySelector(".who")?.textContent}: ${e.querySelector(".text")?.textContent}`));
  const systemLines = (p: Page) => p.$$eval("#messages li.sys", (els) => els.map((e) => e.textContent ?? ""));
  const presence = (p: Page) => p.$$eval("#presence li .name", (els) => els.map((e) => e.textContent));
  const waitForMessage = (p: Page, line: string, timeout = 10_000) =>
    p.waitForFunction(
      (line) =>
        [...document.querySelectorAll("#messages li.msg")].some(
          (e) => `${e.querySelector(".who")?.textContent}: ${e.querySelector(".text")?.textContent}` === line,
        ),
      line,
      { timeout },
    );
  const waitForPresence = (p: Page, names: string[]) =>
    p.waitForFunction(
      (names) => JSON.stringify([...document.querySelectorAll("#presence li .name")].map((e) => e.textContent)) === JSON.stringify(names),
      names,
    );
  const presenceIds = async (channel: string) => Object.keys((await hub.api.presence({ channel })).presence);
  const serverPublish = (channel: string, data: unknown) =>
    hub.api.publish({ channel, data: Buffer.from(JSON.stringify(data)), idempotencyKey: "", skipHistory: false, tags: {} });

  it("two tabs chat both ways and see each other in the presence list", async () => {
    const alice = await open("alice", "chat:lobby");
    await say(alice, "anyone here?");
    const bob = await open("bob", "chat:lobby");
    // Bob sees what was said before he came (history), then both chat live.
    await waitForMessage(bob, "alice: anyone here?");
    await say(bob, "hi alice");
    await waitForMessage(alice, "bob: hi alice");
    await say(alice, "hello bob!");
    await waitForMessage(bob, "alice: hello bob!");
    for (const p of [alice, bob]) await waitForPresence(p, ["alice", "bob"]);
    expect(await presence(alice)).toEqual(["alice", "bob"]);
    expect(await presence(bob)).toEqual(["alice", "bob"]);
    expect(await messages(alice)).toEqual(["alice: anyone here?", "bob: hi alice", "alice: hello bob!"]);
    expect(await messages(bob)).toEqual(["alice: anyone here?", "bob: hi alice", "alice: hello bob!"]);
    expect(await systemLines(alice)).toContain("bob joined");
    // Own messages are marked; the "you" badge sits next to one's own name.
    expect(await alice.$$eval("#messages li.msg.mine .text", (els) => els.map((e) => e.textContent))).toEqual(["anyone here?", "hello bob!"]);
    expect(await bob.$eval("#presence li:has(.you) .name", (e) => e.textContent)).toBe("bob");
    await alice.screenshot({ path: "/tmp/demo.png" });

    await bob.context().close();
    await waitForPresence(alice, ["alice"]);
    expect(await systemLines(alice)).toContain("bob left");
    await alice.context().close();
  });

  it("survives a server disconnect (reconnect: true) and recovers what it missed", async () => {
    const carol = await open("carol", "chat:recover");
    await waitForPresence(carol, ["carol"]);
    const [before] = await presenceIds("chat:recover");
    expect(before).toBeDefined();
    // 3013 force-reconnect; the old connection leaves the channel at once, so whatever is
    // published now reaches carol only through recovery.
    hub.node.disconnectUser({ user: "", client: before!, code: 3013, reason: "test" });
    expect(hub.node.hub.numSubscribers("chat:recover")).toBe(0);
    await serverPublish("chat:recover", { name: "server", text: "while you were away" });
    await waitForMessage(carol, "server: while you were away", 15_000);
    await carol.waitForSelector("#state.connected");
    expect((await messages(carol)).filter((m) => m === "server: while you were away")).toHaveLength(1);
    const lines = await systemLines(carol);
    expect(lines.some((l) => l.startsWith("Connection lost"))).toBe(true);
    expect(lines).toContain("Reconnected: caught up on everything missed");
    const after = await presenceIds("chat:recover");
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before); // a new connection
    await waitForPresence(carol, ["carol"]);
    // And it still chats.
    await say(carol, "back");
    await waitForMessage(carol, "carol: back");
    await carol.context().close();
  });

  it("stays disconnected when the hub says not to reconnect (3504)", async () => {
    const dan = await open("dan", "chat:final");
    const [id] = await presenceIds("chat:final");
    hub.node.disconnectUser({ user: "", client: id!, code: 3504, reason: "banned for the test" });
    await dan.waitForSelector("#state.disconnected");
    await dan.waitForFunction(() => [...document.querySelectorAll("#messages li.sys")].some((e) => e.textContent === "Disconnected: banned for the test"));
    await new Promise((r) => setTimeout(r, 1500)); // longer than the first reconnect delay
    expect(await presenceIds("chat:final")).toEqual([]);
    expect(await dan.textContent("#state")).toBe("disconnected");
    await dan.context().close();
  });

  it("a receive-only tab (SSE) reads the chat", async () => {
    const erin = await open("erin", "chat:sse");
    const viewer = await open("viewer", "chat:sse", "?transport=sse");
    expect(await viewer.textContent("#state")).toBe("connected · sse");
    expect(await viewer.isDisabled("#text")).toBe(true);
    await say(erin, "can you read me?");
    await waitForMessage(viewer, "erin: can you read me?");
    // The SSE tab is in presence but cannot announce its name; it learns erin's from her hello.
    await erin.waitForFunction(() => document.querySelectorAll("#presence li").length === 2);
    const seenByErin = await presence(erin);
    expect(seenByErin[0]).toBe("erin");
    expect(seenByErin[1]).toMatch(/^guest·/);
    await waitForPresence(viewer, ["erin", "viewer"]);
    await erin.context().close();
    await viewer.context().close();
  });
});
