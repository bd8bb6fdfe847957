import { request, type ClientRequest, type IncomingMessage } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { until } from "../helpers/until.js";

const KEY = "admin-it-key";
const TOKEN = "admin-it-token-0123456789";

/** One request with Node's http: status, headers, body. */
function call(hub: TestHub, path: string, opts: { method?: string; auth?: string; body?: unknown } = {}) {
  return new Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }>((resolve, reject) => {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (opts.auth) headers.Authorization = opts.auth;
    const req = request(`${hub.httpUrl}${path}`, { method: opts.method ?? "POST", headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("timeout", () => req.destroy(new Error(`${path}: no answer in 5 s`)));
    req.on("error", reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

/** An open POST /api/subscribe: its response, the lines read so far, and a way to wait for more. */
interface Stream {
  req: ClientRequest;
  res: IncomingMessage;
  lines: any[];
  ended: Promise<void>;
  next(pred: (l: any) => boolean, ms?: number): Promise<any>;
}

function subscribe(hub: TestHub, body: unknown, auth = `apikey ${KEY}`): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${hub.httpUrl}/api/subscribe`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: auth } }, (res) => {
      const lines: any[] = [];
      let rest = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        for (const p of parts) if (p.trim()) lines.push(JSON.parse(p));
      });
      const ended = new Promise<void>((r) => {
        res.on("end", () => r());
        res.on("close", () => r());
      });
      const next = (pred: (l: any) => boolean, ms = 5000) =>
        until(() => lines.find(pred), { ms, what: `a line like that; got ${JSON.stringify(lines).slice(0, 500)}` });
      resolve({ req, res, lines, ended, next });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** The subscriber count of a channel, as the server API reports it (0 when it has none). */
async function subscribers(hub: TestHub, channel: string): Promise<number> {
  const r = await hub.api.channels({ pattern: channel });
  return r.channels[channel]?.numClients ?? 0;
}

const publish = (hub: TestHub, channel: string, data: unknown) =>
  hub.api.publish({ channel, data: Buffer.from(JSON.stringify(data)), idempotencyKey: "", skipHistory: false, tags: {} });

describe("the admin page's HTTP endpoints", () => {
  let off: TestHub;
  let on: TestHub;
  beforeAll(async () => {
    off = await startTestHub({ apiKey: KEY });
    on = await startTestHub({ apiKey: KEY, admin: true, adminToken: TOKEN });
  });
  afterAll(async () => {
    await off?.stop();
    await on?.stop();
  });

  it("/admin is 404 with admin off, the page with it on: not cached, not framed, only its own script runs", async () => {
    for (const path of ["/admin", "/admin/"]) {
      const r = await call(off, path, { method: "GET" });
      expect([path, r.status, JSON.parse(r.body).error.code]).toEqual([path, 404, ErrorCode.ERROR_CODE_NOT_FOUND]);
    }
    const page = await call(on, "/admin", { method: "GET" });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body).toContain("<title>realtime-hub · admin</title>");
    expect(page.headers["cache-control"]).toBe("no-store");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]{44}';/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect((await call(on, "/admin/", { method: "HEAD" })).status).toBe(200);
    expect((await call(on, "/admin/other", { method: "GET" })).status).toBe(404);
    // The page holds no secret: it asks for one.
    expect(page.body).not.toContain(KEY);
    expect(page.body).not.toContain(TOKEN);
  });

  it("the API needs the key or, with admin on, the admin token (401 without; 403 for what the token does not open)", async () => {
    for (const hub of [off, on]) {
      expect((await call(hub, "/api/info", { body: {} })).status).toBe(401);
      expect((await call(hub, "/api/info", { body: {}, auth: `apikey ${KEY}` })).status).toBe(200);
      expect((await call(hub, "/api/subscribe", { body: { channels: ["a"] } })).status).toBe(401);
      expect((await call(hub, "/api/subscribe", { body: { channels: ["a"] }, auth: "apikey wrong" })).status).toBe(401);
    }
    // Admin off: the token opens nothing, even where admin is on elsewhere.
    expect((await call(off, "/api/info", { body: {}, auth: `admin ${TOKEN}` })).status).toBe(401);
    const info = await call(on, "/api/info", { body: {}, auth: `admin ${TOKEN}` });
    expect([info.status, JSON.parse(info.body).nodes[0].id]).toEqual([200, on.node.id]);
    expect((await call(on, "/api/info", { body: {}, auth: `admin ${TOKEN}-not` })).status).toBe(401);
    const erase = await call(on, "/api/erase_user", { body: { user: "u" }, auth: `admin ${TOKEN}` });
    expect([erase.status, JSON.parse(erase.body).error.code]).toEqual([403, ErrorCode.ERROR_CODE_PERMISSION_DENIED]);
  });
});

describe("POST /api/subscribe: the server API's Subscribe as newline-delimited JSON", () => {
  let hub: TestHub | undefined;
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });

  it("streams a publication published once the headers are in, and leaves the channel when the client aborts", async () => {
    const h = (hub = await startTestHub({ apiKey: KEY, admin: true, adminToken: TOKEN }));
    const s = await subscribe(h, { channels: ["admin-it:live", "admin-it:other"] }, `admin ${TOKEN}`);
    expect(s.res.statusCode).toBe(200);
    expect(s.res.headers["content-type"]).toBe("application/x-ndjson");
    expect(await subscribers(h, "admin-it:live")).toBe(1);
    await publish(h, "admin-it:live", { text: "<b>hi</b>" });
    await publish(h, "admin-it:other", { n: 2 });
    const first = await s.next((l) => l.publication);
    expect(first).toMatchObject({ channel: "admin-it:live", publication: { data: { text: "<b>hi</b>" } } });
    expect(await s.next((l) => l.channel === "admin-it:other")).toMatchObject({ publication: { data: { n: 2 } } });
    // The client goes away: the subscriptions and the connection slot go with it.
    s.req.destroy();
    await until(async () => (await subscribers(h, "admin-it:live")) === 0 && (await subscribers(h, "admin-it:other")) === 0, { what: "the stream's subscriptions to end" });
  });

  it("a bad request is an HTTP error before any stream: bad channel, unknown namespace, no channels, bad JSON", async () => {
    const h = (hub = await startTestHub({ apiKey: KEY, dev: false, namespaces: [] }));
    const bad = await call(h, "/api/subscribe", { body: { channels: ["no spaces allowed"] }, auth: `apikey ${KEY}` });
    expect([bad.status, JSON.parse(bad.body).error.code]).toEqual([400, ErrorCode.ERROR_CODE_BAD_REQUEST]);
    expect(JSON.parse(bad.body).error.message).toMatch(/invalid channel name/);
    const unknown = await call(h, "/api/subscribe", { body: { channels: ["fine", "nope:x"] }, auth: `apikey ${KEY}` });
    expect([unknown.status, JSON.parse(unknown.body).error.code]).toEqual([404, ErrorCode.ERROR_CODE_UNKNOWN_CHANNEL]);
    // The whole call failed: the good channel was not left subscribed.
    expect(await subscribers(h, "fine")).toBe(0);
    expect((await call(h, "/api/subscribe", { body: {}, auth: `apikey ${KEY}` })).status).toBe(400);
    expect((await call(h, "/api/subscribe", { body: [1], auth: `apikey ${KEY}` })).status).toBe(400);
    expect((await call(h, "/api/subscribe", { method: "GET", auth: `apikey ${KEY}` })).status).toBe(405);
  });

  it("holds a connection slot: past maxConnections 503, and the slot comes back when the stream ends", async () => {
    const h = (hub = await startTestHub({ apiKey: KEY, maxConnections: 1 }));
    const s = await subscribe(h, { channels: ["slots"] });
    expect(s.res.statusCode).toBe(200);
    const full = await call(h, "/api/subscribe", { body: { channels: ["slots"] }, auth: `apikey ${KEY}` });
    expect([full.status, JSON.parse(full.body).error]).toMatchObject([503, { code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, temporary: true }]);
    s.req.destroy();
    await until(async () => (await subscribers(h, "slots")) === 0);
    const again = await subscribe(h, { channels: ["slots"] });
    expect(again.res.statusCode).toBe(200);
    again.req.destroy();
  });

  it("ends a stream whose client stops reading with a last error line (subscribeBacklogMaxEvents)", async () => {
    const h = (hub = await startTestHub({ apiKey: KEY, subscribeBacklogMaxEvents: 20 }));
    const s = await subscribe(h, { channels: ["slow"] });
    s.res.pause();
    const big = "x".repeat(64 * 1024);
    for (let i = 0; i < 2000 && (await subscribers(h, "slow")) > 0; i++) await publish(h, "slow", { i, big });
    expect(await subscribers(h, "slow")).toBe(0);
    s.res.resume();
    await s.ended;
    expect(s.lines.at(-1)).toEqual({
      error: { code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, message: expect.stringMatching(/subscribeBacklogMaxEvents/) as unknown, temporary: false },
    });
  }, 60_000);

  it("ends open streams on shutdown with a temporary error line", async () => {
    const h = (hub = await startTestHub({ apiKey: KEY }));
    const s = await subscribe(h, { channels: ["bye"] });
    await h.stop();
    await s.ended;
    expect(s.lines.at(-1)).toMatchObject({ error: { code: ErrorCode.ERROR_CODE_NOT_AVAILABLE, temporary: true } });
  });
});
