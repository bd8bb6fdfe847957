import { execFile } from "node:child_process";
import net from "node:net";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { topicToChannel } from "../../src/mercure/topic-channel.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { which } from "../helpers/processes.js";
import { fileExists, requireTools } from "../helpers/require.js";
import { until } from "../helpers/until.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { canRunBrowser, launchBrowser } from "./browser.js";

/**
 * Mercure as a Symfony app and its pages use it: Debian's Chromium subscribes with the
 * browser's own EventSource (same origin, the `mercureAuthorization` cookie Symfony's
 * Authorization class makes, or the `authorization` query parameter), Debian's
 * php-symfony-mercure publishes with its unchanged Hub class, and a WebSocket client of the
 * mapped channel reads the same updates. The page reaches the hub through a proxy the test
 * can cut, so the EventSource reconnects by itself and resumes with Last-Event-ID.
 */

const MERCURE_AUTOLOAD = "/usr/share/php/Symfony/Component/Mercure/autoload.php";
const SECRET = "mercure-browser-secret";

// Both checked (each names what is missing); under REALTIME_REQUIRE_ALL=1 either one throws.
const needs = [
  canRunBrowser("browser e2e (Mercure EventSource)"),
  requireTools("browser e2e (Mercure EventSource) with Debian's symfony/mercure", {
    "php (Debian package php-cli)": which("php") !== null,
    "symfony/mercure 0.6 (Debian package php-symfony-mercure)": fileExists(MERCURE_AUTOLOAD),
  }),
];
const canRun = needs.every(Boolean);

/**
 * What a Symfony app does, with the component unchanged. A token factory of its own (HS256 by
 * hand, as an app without lcobucci/jwt would; the exp Symfony adds becomes a timestamp).
 * argv: `publish` hub-url secret data private(0/1) retry topics...  |  `cookie` hub-url secret page-url topics...
 */
const APP_PHP = `
require '${MERCURE_AUTOLOAD}';
use Symfony\\Component\\HttpFoundation\\Request;
use Symfony\\Component\\Mercure\\Authorization;
use Symfony\\Component\\Mercure\\Hub;
use Symfony\\Component\\Mercure\\HubRegistry;
use Symfony\\Component\\Mercure\\Jwt\\StaticTokenProvider;
use Symfony\\Component\\Mercure\\Jwt\\TokenFactoryInterface;
use Symfony\\Component\\Mercure\\Update;
final class Hs256Factory implements TokenFactoryInterface {
  public function __construct(private string $secret) {}
  public function create(?array $subscribe = [], ?array $publish = [], array $additionalClaims = []): string {
    $claims = ['mercure' => array_filter(['publish' => $publish, 'subscribe' => $subscribe], fn ($v) => $v !== null)];
    foreach ($additionalClaims as $k => $v) $claims[$k] = $v instanceof \\DateTimeInterface ? $v->getTimestamp() : $v;
    $b64 = fn (string $s) => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
    $head = $b64(json_encode(['alg' => 'HS256', 'typ' => 'JWT']));
    $body = $b64(json_encode($claims));
    return "$head.$body." . $b64(hash_hmac('sha256', "$head.$body", $this->secret, true));
  }
}
[, $mode, $url, $secret] = $argv;
$factory = new Hs256Factory($secret);
$hub = new Hub($url, new StaticTokenProvider($factory->create([], ['*'])), $factory);
if ($mode === 'publish') {
  [, , , , $data, $private, $retry] = $argv;
  echo $hub->publish(new Update(array_slice($argv, 7), $data, $private === '1', null, null, $retry === '' ? null : (int) $retry));
} else {
  $cookie = (new Authorization(new HubRegistry($hub)))->createCookie(Request::create($argv[4]), array_slice($argv, 5));
  echo (string) $cookie;
}
`;

const php = async (args: string[]) => (await promisify(execFile)("php", ["-r", APP_PHP, "--", ...args], { timeout: 20_000 })).stdout;

/** A TCP proxy in front of the hub that the test can cut, and hold new connections on. */
class CuttableProxy {
  /** The start of every request that came through (headers included). */
  readonly requests: string[] = [];
  private readonly open = new Set<net.Socket>();
  private held: Array<() => void> = [];
  private holding = false;
  private constructor(private readonly server: net.Server) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const server = net.createServer();
    const proxy = new CuttableProxy(server);
    server.on("connection", (c) => proxy.accept(c, targetPort));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  private accept(client: net.Socket, targetPort: number): void {
    this.open.add(client);
    const buffered: Buffer[] = [];
    let upstream: net.Socket | undefined;
    let first = true;
    client.on("data", (chunk: Buffer) => {
      if (first) this.requests.push(chunk.toString("latin1"));
      first = false;
      if (upstream) upstream.write(chunk);
      else buffered.push(chunk);
    });
    const connect = () => {
      if (client.destroyed) return;
      upstream = net.connect(targetPort, "127.0.0.1");
      this.open.add(upstream);
      for (const b of buffered) upstream.write(b);
      upstream.on("data", (c: Buffer) => client.write(c));
      upstream.on("close", () => client.destroy());
      upstream.on("error", () => client.destroy());
    };
    client.on("close", () => upstream?.destroy());
    client.on("error", () => upstream?.destroy());
    if (this.holding) this.held.push(connect);
    else connect();
  }

  /** Connections accepted from now on wait for release(). */
  hold(): void {
    this.holding = true;
  }

  get heldCount(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const connect of this.held.splice(0)) connect();
  }

  /** Cuts every connection, as a restarting load balancer would. */
  cut(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}

declare global {
  interface Window {
    got: { id: string; data: string }[];
    opens: number;
  }
}

describe.runIf(canRun)("Mercure in a real browser: EventSource, Symfony's Hub and cookie, a WebSocket client", () => {
  let hub: TestHub;
  let proxy: CuttableProxy;
  let browser: Browser;
  beforeAll(async () => {
    hub = await startTestHub({ tokenHmacSecret: SECRET });
    proxy = await CuttableProxy.start(hub.httpPort);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await hub?.stop();
  });

  /** A page of the hub's origin (through the proxy), its cookie set as a Symfony response would set it. */
  async function newPage(setCookie?: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on("pageerror", (err) => console.error("page error", err));
    if (setCookie !== undefined) {
      // The Symfony app's response: the Set-Cookie header exactly as Authorization::createCookie wrote it.
      await page.route(`${proxy.url}/symfony-page`, (route) => route.fulfill({ status: 200, headers: { "Content-Type": "text/html", "Set-Cookie": setCookie }, body: "<!doctype html><title>app</title>" }));
      await page.goto(`${proxy.url}/symfony-page`);
      expect(await context.cookies(`${proxy.url}/.well-known/mercure`)).toEqual([
        expect.objectContaining({ name: "mercureAuthorization", path: "/.well-known/mercure", httpOnly: true, sameSite: "Strict" }),
      ]);
    } else {
      await page.goto(`${proxy.url}/health`);
    }
    return page;
  }

  /** Opens `new EventSource(url)` in the page (relative: same origin) and waits until it is open. */
  async function subscribe(page: Page, query: URLSearchParams): Promise<void> {
    await page.evaluate(
      (url) =>
        new Promise<void>((resolve, reject) => {
          window.got = [];
          window.opens = 0;
          const es = new EventSource(url);
          es.onmessage = (e) => window.got.push({ id: e.lastEventId, data: e.data });
          es.onopen = () => {
            window.opens++;
            resolve();
          };
          es.onerror = () => {
            // CLOSED: the hub refused (a non-200 answer); CONNECTING: it will come back by itself.
            if (es.readyState === EventSource.CLOSED) reject(new Error("EventSource refused"));
          };
        }),
      `/.well-known/mercure?${query}`,
    );
  }
  const got = (page: Page) => page.evaluate(() => window.got.map((e) => e.data));
  const waitForData = (page: Page, data: string[]) =>
    page
      .waitForFunction((want) => JSON.stringify(window.got.map((e) => e.data)) === JSON.stringify(want), data, { timeout: 10_000 })
      .catch(async (err: Error) => {
        throw new Error(`waited for ${JSON.stringify(data)}, the page has ${JSON.stringify(await got(page))}: ${err.message}`);
      });

  it("Symfony publishes; EventSources (anonymous, cookie, query JWT with a template) and a WebSocket client receive; private only where allowed; a cut stream resumes with Last-Event-ID", async () => {
    const base = `https://example.com/e2e-${Date.now()}`;
    const book = `${base}/books/1`;
    const hubUrl = `${hub.httpUrl}/.well-known/mercure`;
    const publish = (data: string, priv: boolean, retry = "") => php(["publish", hubUrl, SECRET, data, priv ? "1" : "0", retry, book]);

    const anonymous = await newPage();
    await subscribe(anonymous, new URLSearchParams({ topic: book }));
    const cookie = await php(["cookie", hubUrl, SECRET, `${proxy.url}/symfony-page`, book]);
    expect(cookie).toMatch(/^mercureAuthorization=[\w.-]+; path=\/\.well-known\/mercure; httponly; samesite=strict$/);
    const byCookie = await newPage(cookie);
    await subscribe(byCookie, new URLSearchParams({ topic: book }));
    // The query parameter carries a JWT allowing a template; the subscription is a template too.
    const queryJwt = await new SignJWT({ mercure: { subscribe: [`${base}/books/{id}`] } }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    const byQuery = await newPage();
    await subscribe(byQuery, new URLSearchParams({ topic: `${base}/books/{id}`, authorization: queryJwt }));
    const pages = [anonymous, byCookie, byQuery];
    const ws = await TestWsClient.connect(hub.wsUrl);
    try {
      await ws.call({ subscribe: { channel: topicToChannel(book) } });

      // retry: the EventSources come back 200 ms after a cut (the default is seconds).
      const first = await publish('{"title":"Dune"}', false, "200");
      expect(first).toMatch(/^urn:uuid:/);
      for (const p of pages) await waitForData(p, ['{"title":"Dune"}']);
      expect(await byCookie.evaluate(() => window.got[0]!.id)).toBe(first);
      await publish("secret", true);
      const third = await publish("public again", false);
      for (const p of [byCookie, byQuery]) await waitForData(p, ['{"title":"Dune"}', "secret", "public again"]);
      await waitForData(anonymous, ['{"title":"Dune"}', "public again"]);
      // The WebSocket client of the mapped channel reads them all (dev: the namespace is public).
      await until(() => ws.pubs(topicToChannel(book)).length >= 3, { what: "3 publications on the WebSocket" });
      expect(ws.pubs(topicToChannel(book)).map((p) => p.tags["mercure.id"])[2]).toBe(third);
      expect(ws.pubs(topicToChannel(book))[0]).toMatchObject({ data: { title: "Dune" }, tags: { "mercure.id": first } });

      // Cut every stream while new connections wait: what is published meanwhile must come
      // back through history, asked for by the EventSource itself with Last-Event-ID.
      const before = proxy.requests.length;
      proxy.hold();
      proxy.cut();
      await until(() => proxy.heldCount >= 3, { what: "the three EventSources reconnecting", ms: 10_000 });
      await publish("missed secret", true);
      await publish("missed public", false);
      proxy.release();
      for (const p of [byCookie, byQuery]) await waitForData(p, ['{"title":"Dune"}', "secret", "public again", "missed secret", "missed public"]);
      await waitForData(anonymous, ['{"title":"Dune"}', "public again", "missed public"]);
      const reconnects = proxy.requests.slice(before).filter((r) => r.startsWith("GET /.well-known/mercure?"));
      expect(reconnects).toHaveLength(3);
      for (const r of reconnects) expect(r).toMatch(new RegExp(`\r\nlast-event-id: ${third}\r\n`, "i"));
      // The cookie goes with the reconnect too (path /.well-known/mercure, same site).
      expect(reconnects.filter((r) => /\r\ncookie: mercureAuthorization=/i.test(r))).toHaveLength(1);
      for (const p of pages) expect(await p.evaluate(() => window.opens)).toBe(2);

      // Live again after the resume.
      await publish("live", false);
      for (const p of [byCookie, byQuery]) await waitForData(p, ['{"title":"Dune"}', "secret", "public again", "missed secret", "missed public", "live"]);
      await waitForData(anonymous, ['{"title":"Dune"}', "public again", "missed public", "live"]);
    } finally {
      ws.close();
      for (const p of pages) await p.context().close();
    }
  });
});
