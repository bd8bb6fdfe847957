import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { defaultNamespace, loadConfig } from "../../src/config.js";
import { signature } from "../../src/proxy/signature.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { freePort } from "../helpers/processes.js";
import { canRunSymfony, startSymfonyApp, type SymfonyApp } from "../helpers/symfony-app.js";
import { eventually } from "../helpers/until.js";
import { canRunBrowser, launchBrowser } from "./browser.js";

/**
 * The Symfony-first mode with a real Symfony app (test/symfony: Debian's Symfony 5.4 under
 * `php -S`) as the webhook backend: its signature check called directly, then Chromium
 * logging in to the app and connecting to a hub (not in --dev) that asks the app about
 * everything. docs/symfony.md shows the same PHP.
 */

const SECRET = "symfony-webhook-secret";
const API_KEY = "symfony-api-key";
const ROOT = new URL("../..", import.meta.url);

// The page's raw JSON-protocol connection (test/symfony/src/Controller/PageController.php).
declare global {
  interface Window {
    HubConnection: new (url: string) => { call(cmd: object): Promise<any>; closed: Promise<{ code: number }>; pushes: any[]; ws: WebSocket };
    hub: InstanceType<Window["HubConnection"]>;
  }
}

describe("docs/symfony.md", () => {
  const doc = readFileSync(new URL("docs/symfony.md", ROOT), "utf8");

  it("shows the PHP the test apps run, word for word", () => {
    // Each block that names its file in a first-line comment must be found in that file.
    const blocks = [...doc.matchAll(/```php\n\/\/ (test\/symfony(?:-bundle)?\/\S+\.php)\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual(
      expect.arrayContaining([
        "test/symfony/src/Realtime/WebhookSignature.php",
        "test/symfony/src/Controller/ConnectController.php",
        "test/symfony/src/Realtime/HubPublisher.php",
        "test/symfony-bundle/src/Controller/NewsController.php",
        "test/symfony-bundle/src/Realtime/ConnectListener.php",
        "test/symfony-bundle/src/Security/ChannelVoter.php",
        "test/symfony-bundle/tests/NewsAnnouncerTest.php",
      ]),
    );
    for (const [, file, code] of blocks) expect(readFileSync(new URL(file!, ROOT), "utf8"), file).toContain(code!.trim());
    // The excerpts without a file (routes, services, a call) are lines of the by-hand app.
    const app = ["src/Kernel.php", "src/Controller/AnnounceController.php"].map((f) => readFileSync(new URL(`test/symfony/${f}`, ROOT), "utf8")).join("\n");
    for (const [, code] of doc.matchAll(/```php\n(?!\/\/ test\/symfony)([\s\S]*?)```/g))
      for (const line of code!.split("\n").map((l) => l.trim()).filter(Boolean)) expect(app, line).toContain(line);
  });

  it("shows the bundle app's YAML, word for word", () => {
    const blocks = [...doc.matchAll(/```yaml\n# (test\/symfony-bundle\/\S+\.yaml)\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual(
      expect.arrayContaining(["test/symfony-bundle/config/packages/realtime.yaml", "test/symfony-bundle/config/packages/messenger.yaml", "test/symfony-bundle/config/routes/realtime.yaml"]),
    );
    for (const [, file, code] of blocks) expect(readFileSync(new URL(file!, ROOT), "utf8"), file).toContain(code!.trim());
  });

  it("has hub configs the hub loads", () => {
    // The first YAML block that names no file (the by-hand app's hub) and those headed `# hub.yaml` (the bundle's).
    const first = /```yaml\n(?!# )([\s\S]*?)```/.exec(doc)?.[1];
    const bundle = [...doc.matchAll(/```yaml\n# hub\.yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(first).toBeDefined();
    expect(bundle.length).toBeGreaterThanOrEqual(1);
    const dir = mkdtempSync(join(tmpdir(), "symfony-doc-"));
    const load = (yaml: string) => {
      writeFileSync(join(dir, "hub.yaml"), yaml);
      return loadConfig({ flags: { config: join(dir, "hub.yaml") } });
    };
    try {
      const cfg = load(first!);
      expect(cfg).toMatchObject({ proxyCookies: "PHPSESSID", proxySecret: "a-long-random-string", proxyConnectUrl: "http://symfony.internal/realtime/connect" });
      expect(cfg.namespaces.find((n) => n.name === "news")).toMatchObject({ subscribeProxy: "off", publishProxy: "off" });
      // The bundle's routes: /realtime/<path> for each call (clients/php/bundle/src/Webhook/CallKind.php).
      expect(load(bundle[0]!)).toMatchObject({ proxySubRefreshUrl: "http://symfony.internal/realtime/sub-refresh", proxyUnsubscribeUrl: "http://symfony.internal/realtime/unsubscribe" });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe.runIf(canRunSymfony("Symfony webhook backend"))("the Symfony app's webhook signature check", () => {
  let app: SymfonyApp;
  beforeAll(async () => {
    app = await startSymfonyApp({ secret: SECRET, hubUrl: "http://127.0.0.1:9", apiKey: API_KEY });
  });
  afterAll(() => app?.stop());

  const body = JSON.stringify({ context: { client: "c-1", transport: "websocket" }, name: "direct" });
  const now = () => Math.floor(Date.now() / 1000);
  const signed = (ts: number, over = body, secret = SECRET) => ({
    "x-realtime-timestamp": String(ts),
    "x-realtime-signature": signature(secret, ts, Buffer.from(over)),
  });
  const connect = (headers: Record<string, string>) =>
    fetch(`${app.url}/realtime/connect`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

  it.each<[string, () => Record<string, string>]>([
    ["unsigned", () => ({})],
    ["signed with another secret", () => signed(now(), body, "not-the-secret")],
    ["signed for another body", () => signed(now(), body.replace("c-1", "c-2"))],
    ["replayed after the 300 s window", () => signed(now() - 310)],
    ["dated past the window in the future", () => signed(now() + 310)],
    ["a timestamp that is not a number", () => ({ ...signed(now()), "x-realtime-timestamp": "now" })],
    ["a signature without its sha256= prefix", () => ({ ...signed(now()), "x-realtime-signature": signed(now())["x-realtime-signature"].slice(7) })],
  ])("answers HTTP 401 to a request %s", async (_, headers) => {
    const res = await connect(headers());
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 101, message: "bad or expired webhook signature" } });
  });

  it("answers a signed request, inside the window, by the session cookie it carries", async () => {
    // Within the window (290 s old): still accepted, so the 401s above are the window's doing.
    const anonymous = await connect(signed(now() - 290));
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ error: { code: 101, message: "not logged in", temporary: false } });

    const login = await fetch(`${app.url}/login`, { method: "POST", body: new URLSearchParams({ user: "alice", password: "alice-secret" }), redirect: "manual" });
    expect(login.status).toBe(302);
    const cookie = /PHPSESSID=[^;]+/.exec(login.headers.get("set-cookie") ?? "")?.[0];
    expect(cookie).toBeDefined();
    const alice = await connect({ ...signed(now()), cookie: cookie! });
    expect(await alice.json()).toEqual({ result: { user: "alice", info: { name: "Alice" }, data: { hello: "Alice" } } });
  });
});

describe.runIf(canRunSymfony("browser e2e (Symfony)") && canRunBrowser("browser e2e (Symfony)"))("Chromium, the hub and the Symfony app", () => {
  let app: SymfonyApp;
  let hub: TestHub;
  let browser: Browser;

  beforeAll(async () => {
    // The app publishes through the hub's API and the hub calls the app: the hub's port is
    // chosen first, so each can be told where the other is.
    const hubPort = await freePort();
    app = await startSymfonyApp({ secret: SECRET, hubUrl: `http://127.0.0.1:${hubPort}`, apiKey: API_KEY });
    const hook = (kind: string) => `${app.url}/realtime/${kind}`;
    hub = await startTestHub({
      // As in production: no anonymous connections, an API key, only the app's pages may connect.
      dev: false,
      httpAddr: `127.0.0.1:${hubPort}`,
      apiKey: API_KEY,
      allowedOrigins: app.url,
      proxyConnectUrl: hook("connect"),
      proxySubscribeUrl: hook("subscribe"),
      proxyPublishUrl: hook("publish"),
      proxyRpcUrl: hook("rpc"),
      proxyDisconnectUrl: hook("disconnect"),
      proxySecret: SECRET,
      proxyCookies: "PHPSESSID",
      proxyNotifyRetrySeconds: 5,
      namespaces: [
        { ...defaultNamespace("chat"), presence: true, historySize: 50, historyTtlSeconds: 300 },
        { ...defaultNamespace("personal") },
        { ...defaultNamespace("admin") },
      ],
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    await app?.stop();
  });

  /** A page of the app in a browser of its own (its own cookies), logged in as `user` unless null. */
  async function appPage(user: "alice" | "bob" | null): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (err) => console.error("page error", err));
    if (user) {
      await page.goto(`${app.url}/login`);
      await page.fill("input[name=user]", user);
      await page.fill("input[name=password]", `${user}-secret`);
      await Promise.all([page.waitForURL(`${app.url}/`), page.click("button[type=submit]")]);
    } else {
      await page.goto(`${app.url}/`);
    }
    // The hub is on another port of the same host: the browser sends it the app's session cookie.
    await page.evaluate((url) => void (window.hub = new window.HubConnection(url)), hub.wsUrl);
    return page;
  }
  const call = (page: Page, command: object) => page.evaluate((cmd) => window.hub.call(cmd), command);
  const pushes = (page: Page) => page.evaluate(() => window.hub.pushes);

  it("refuses a browser that is not logged in: error 101 from the app, then closed", async () => {
    const page = await appPage(null);
    expect(await page.textContent("#who")).toBe("Not logged in.");
    const reply = await call(page, { connect: {} });
    expect(reply.error).toMatchObject({ code: 101, message: "not logged in" });
    expect((await page.evaluate(() => window.hub.closed)).code).toBe(3503);
    await page.context().close();
  });

  it("connects a logged-in browser as its session's user; the app decides subscribe, publish and rpc", async () => {
    const page = await appPage("alice");
    expect(await page.textContent("#who")).toBe("Logged in as Alice.");
    const connected = await call(page, { connect: {} });
    expect(connected.error).toBeUndefined();
    expect(connected.connect.data).toEqual({ hello: "Alice" });

    // Subscribe: by user and channel.
    expect((await call(page, { subscribe: { channel: "chat:lobby" } })).error).toBeUndefined();
    expect((await call(page, { subscribe: { channel: "personal:alice" } })).error).toBeUndefined();
    expect((await call(page, { subscribe: { channel: "personal:bob" } })).error).toMatchObject({ code: 103, message: "alice may not read personal:bob" });
    expect((await call(page, { subscribe: { channel: "admin:ops" } })).error).toMatchObject({ code: 103 });
    // The hub took the user and channel info the app answered.
    const presence = await hub.api.presence({ channel: "chat:lobby" });
    expect(Object.values(presence.presence).map((p) => [p.user, JSON.parse(Buffer.from(p.chanInfo).toString())])).toEqual([["alice", { name: "Alice" }]]);

    // Publish: what subscribers get is the app's rewrite.
    expect((await call(page, { publish: { channel: "chat:lobby", data: { text: " <b>hi</b> " } } })).error).toBeUndefined();
    await page.waitForFunction(() => window.hub.pushes.some((p) => p.pub));
    const [pub] = (await pushes(page)).filter((p) => p.pub);
    expect(pub.channel).toBe("chat:lobby");
    expect(pub.pub.data).toEqual({ text: "&lt;b&gt;hi&lt;/b&gt;", by: "Alice" });
    expect(pub.pub.info).toMatchObject({ user: "alice", chanInfo: { name: "Alice" } });
    expect((await call(page, { publish: { channel: "chat:lobby", data: { text: "cheap spam" } } })).error).toMatchObject({ code: 103, message: "message refused by moderation" });
    expect((await call(page, { publish: { channel: "chat:lobby", data: { nothing: 1 } } })).error).toMatchObject({ code: 107 });

    // Rpc: answered by the app, with the session cookie on this call too.
    expect((await call(page, { rpc: { method: "whoami" } })).rpc.data).toEqual({ user: "alice", name: "Alice", session: "alice" });
    expect((await call(page, { rpc: { method: "add", data: { numbers: [1, 2, 3.5] } } })).rpc.data).toEqual({ sum: 6.5 });
    expect((await call(page, { rpc: { method: "nope" } })).error).toMatchObject({ code: 104, message: "unknown method" });
    await page.context().close();
  });

  it("lets an admin read admin channels, and delivers what the app publishes through the server API", async () => {
    const alice = await appPage("alice");
    const bob = await appPage("bob");
    for (const p of [alice, bob]) expect((await call(p, { connect: {} })).error).toBeUndefined();
    expect((await call(bob, { subscribe: { channel: "admin:ops" } })).error).toBeUndefined();
    expect((await call(alice, { subscribe: { channel: "chat:lobby" } })).error).toBeUndefined();

    // Broker-first beside it: an ordinary form post of the app publishes (HubPublisher).
    const announced = await bob.evaluate(() => fetch("/announce", { method: "POST", body: new URLSearchParams({ text: "deploy at 5" }) }).then((r) => r.json()));
    expect(announced.published.offset).toMatch(/^\d+$/);
    await alice.waitForFunction(() => window.hub.pushes.some((p) => p.pub?.data?.announcement));
    const pub = (await pushes(alice)).find((p) => p.pub?.data?.announcement);
    expect(pub.pub.data).toEqual({ text: "deploy at 5", by: "Bob", announcement: true });
    // Published by the server, not by a client: no client info.
    expect(pub.pub.info).toBeUndefined();
    // Alice may not.
    expect(await alice.evaluate(() => fetch("/announce", { method: "POST", body: new URLSearchParams({ text: "x" }) }).then((r) => r.status))).toBe(403);
    await alice.context().close();
    await bob.context().close();
  });

  it("tells the app when a browser leaves, once per event id", async () => {
    const page = await appPage("alice");
    const client = (await call(page, { connect: {} })).connect.client as string;
    expect((await call(page, { subscribe: { channel: "chat:lobby" } })).error).toBeUndefined();
    await page.evaluate(() => window.hub.ws.close(1000));
    const events = join(app.varDir, "prod/realtime-events");
    const recorded = () =>
      readdirSync(events)
        .map((f) => JSON.parse(readFileSync(join(events, f), "utf8")))
        .filter((e) => e.client === client);
    await eventually(() => expect(recorded()).toHaveLength(1), 5000);
    expect(recorded()[0]).toMatchObject({ user: "alice", channels: ["chat:lobby"] });
    await page.context().close();
  });
});
