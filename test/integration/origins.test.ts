import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http, { type IncomingHttpHeaders } from "node:http";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";

const PERMISSION_DENIED = 103;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request with exactly these headers (Host as given, else the hub's address). An SSE stream
 * that was accepted is cut once its headers are in.
 */
function request(h: TestHub, path: string, headers: Record<string, string>, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${h.httpUrl}${path}`, { method, headers, agent: false }, (res) => {
      if (res.headers["content-type"] === "text/event-stream") {
        req.destroy();
        return resolve({ status: res.statusCode!, headers: res.headers, body: "" });
      }
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A WebSocket upgrade with this Origin (none when undefined): opened, or the status it was refused with. */
function upgrade(h: TestHub, origin: string | undefined, headers: Record<string, string> = {}): Promise<{ opened: true } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(h.wsUrl, { ...(origin !== undefined ? { origin } : {}), headers });
    ws.once("open", () => {
      ws.close();
      resolve({ opened: true });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    ws.once("error", reject);
  });
}

/** realtime_connections_refused_total{reason="origin"} from /metrics. */
async function originRefusals(h: TestHub): Promise<number> {
  const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("realtime_connections_refused_total{") && l.includes('reason="origin"'));
  if (!line) throw new Error("no realtime_connections_refused_total{reason=\"origin\"} in /metrics");
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

const SSE = "/connection/sse?channel=origins";
const POLL = "/connection/poll?channel=origins";

/** Outside --dev, the config a closed hub needs to take anonymous connections. */
const closedHub = { dev: false, insecureApi: true, allowAnonymous: true, allowUnknownNamespaces: true } as const;

describe("allowed origins, default outside --dev: the hub's own origin only", () => {
  let hub: TestHub;
  let own: string;
  beforeAll(async () => {
    hub = await startTestHub(closedHub);
    own = hub.httpUrl;
  });
  afterAll(async () => hub?.stop());

  it("WebSocket: the own origin and no Origin at all connect; another origin gets 403 before the upgrade", async () => {
    expect(await upgrade(hub, own)).toEqual({ opened: true });
    expect(await upgrade(hub, undefined)).toEqual({ opened: true });
    const refused = await upgrade(hub, "https://evil.example");
    expect(refused).toMatchObject({ status: 403 });
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({
      error: { code: PERMISSION_DENIED, message: expect.stringMatching(/evil\.example.*allowedOrigins/) },
    });
  });

  it("the own origin is the request's Host: the same Origin through another Host is refused", async () => {
    expect(await upgrade(hub, own, { Host: "hub.example:8080" })).toMatchObject({ status: 403 });
    expect(await upgrade(hub, "http://hub.example:8080", { Host: "hub.example:8080" })).toEqual({ opened: true });
    // A sandboxed frame or a file: page sends "null": not the hub's origin.
    expect(await upgrade(hub, "null")).toMatchObject({ status: 403 });
  });

  it("SSE and long-poll: another origin gets 403 with the JSON error body, and no CORS headers", async () => {
    for (const path of [SSE, POLL]) {
      const r = await request(hub, path, { Origin: "https://evil.example" });
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.body), path).toMatchObject({ error: { code: PERMISSION_DENIED, temporary: false } });
      expect(r.headers["access-control-allow-origin"], path).toBeUndefined();
      expect(r.headers.vary, path).toBe("Origin");
    }
  });

  it("SSE and long-poll: the own origin gets CORS headers echoing it; no Origin gets none", async () => {
    const sse = await request(hub, SSE, { Origin: own });
    expect(sse.status).toBe(200);
    expect(sse.headers).toMatchObject({ "access-control-allow-origin": own, "access-control-allow-credentials": "true", vary: "Origin" });
    const poll = await request(hub, POLL, { Origin: own });
    expect(poll.status).toBe(200);
    // The long-poll client reads its secret from this header: another origin's page sees it only when exposed.
    expect(poll.headers).toMatchObject({ "access-control-allow-origin": own, "access-control-expose-headers": "X-Poll-Secret" });
    expect(poll.headers["x-poll-secret"]).toBeTruthy();
    const plain = await request(hub, SSE, {});
    expect(plain.status).toBe(200);
    expect(plain.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("SSE and long-poll: a cross-site load without Origin (a navigation, an iframe) is refused; same-site is not", async () => {
    const crossSite = await request(hub, SSE, { "Sec-Fetch-Site": "cross-site" });
    expect(crossSite.status).toBe(403);
    expect(JSON.parse(crossSite.body).error.code).toBe(PERMISSION_DENIED);
    expect((await request(hub, POLL, { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    expect((await request(hub, SSE, { "Sec-Fetch-Site": "same-origin" })).status).toBe(200);
    expect((await request(hub, SSE, { "Sec-Fetch-Site": "none" })).status).toBe(200);
  });

  it("preflight: an allowed origin gets 204 with methods and the asked headers; another 403", async () => {
    const ok = await request(hub, SSE, { Origin: own, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "last-event-id" }, "OPTIONS");
    expect(ok.status).toBe(204);
    expect(ok.headers).toMatchObject({
      "access-control-allow-origin": own,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, OPTIONS",
      "access-control-allow-headers": "last-event-id",
      vary: "Origin",
    });
    const refused = await request(hub, POLL, { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" }, "OPTIONS");
    expect(refused.status).toBe(403);
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refusals are counted in realtime_connections_refused_total{reason=\"origin\"}", async () => {
    const before = await originRefusals(hub);
    await upgrade(hub, "https://evil.example");
    await request(hub, SSE, { Origin: "https://evil.example" });
    await request(hub, POLL, { Origin: "https://evil.example" });
    await request(hub, SSE, { Origin: own });
    expect(await originRefusals(hub)).toBe(before + 3);
  });
});

describe("allowed origins from the config, with wildcards", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ ...closedHub, allowedOrigins: "https://*.example.com, http://app.test:3000" });
  });
  afterAll(async () => hub?.stop());

  it.each([
    ["https://a.example.com", true],
    ["https://a.b.example.com", true],
    ["http://app.test:3000", true],
    ["https://example.com", false],
    ["http://a.example.com", false],
    ["https://a.example.com.evil.com", false],
    ["https://evil.com/.example.com", false],
    ["https://x@evil.com", false],
    ["http://app.test:3001", false],
  ])("%s allowed: %s", async (origin, allowed) => {
    const ws = await upgrade(hub, origin);
    const sse = await request(hub, SSE, { Origin: origin });
    if (allowed) {
      expect(ws).toEqual({ opened: true });
      expect(sse.status).toBe(200);
      expect(sse.headers["access-control-allow-origin"]).toBe(origin);
    } else {
      expect(ws).toMatchObject({ status: 403 });
      expect(sse.status).toBe(403);
    }
  });

  it("the hub's own origin stays allowed beside the list (the demo page it serves)", async () => {
    expect(await upgrade(hub, hub.httpUrl)).toEqual({ opened: true });
  });
});

describe("allowed origins in --dev and in the config", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub(); // --dev
  });
  afterAll(async () => hub?.stop());

  it("--dev allows any origin, with CORS headers echoing it", async () => {
    expect(hub.config.allowedOrigins).toBe("*");
    expect(await upgrade(hub, "https://anything.example")).toEqual({ opened: true });
    const sse = await request(hub, SSE, { Origin: "https://anything.example" });
    expect(sse.status).toBe(200);
    // Never `*`: browsers refuse it on a response that allows credentials.
    expect(sse.headers["access-control-allow-origin"]).toBe("https://anything.example");
  });

  it("outside --dev the default is the own origin only; a bad entry is a ConfigError naming the key", () => {
    expect(loadConfig({ flags: { insecureApi: true } }).allowedOrigins).toBe("");
    expect(loadConfig({ flags: { dev: true, allowedOrigins: "https://a.example" } }).allowedOrigins).toBe("https://a.example");
    expect(() => loadConfig({ flags: { dev: true, allowedOrigins: "example.com" } })).toThrow(ConfigError);
    expect(() => loadConfig({ flags: { dev: true, allowedOrigins: "https://example.com/app" } })).toThrow(/allowedOrigins: expected scheme:\/\/host/);
  });
});
