import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import http, { type IncomingMessage } from "node:http";
import net from "node:net";
import { once } from "node:events";
import { pino } from "pino";
import WebSocket from "ws";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { clientAborted } from "../../src/transport/http-api.js";
import { until } from "../helpers/until.js";
import { signToken } from "../../src/auth/jwt.js";

/** A second loopback address (Linux answers all of 127/8): a client from "another IP". */
const OTHER_IP = "127.0.0.2";
const otherIpUsable = await new Promise<boolean>((resolve) => {
  const s = net.createServer((c) => c.destroy()).listen(0, "127.0.0.1", () => {
    const c = net.connect({ port: (s.address() as net.AddressInfo).port, host: "127.0.0.1", localAddress: OTHER_IP });
    const done = (ok: boolean) => (c.destroy(), s.close(), resolve(ok));
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
  });
});

const portOf = (h: TestHub) => Number(new URL(h.httpUrl).port);

/** Resolves once `cond` holds, polling; fails after `ms` (generous: the machine may be loaded). */
/** A raw TCP client: sends `text`, records what comes back and when the server closes. */
function rawClient(h: TestHub, text: string) {
  const socket = net.connect(portOf(h), "127.0.0.1");
  let response = "";
  socket.on("data", (c) => (response += c.toString()));
  socket.on("error", () => undefined);
  const started = Date.now();
  const closed = once(socket, "close").then(() => ({ response, afterMs: Date.now() - started }));
  socket.write(text);
  return { socket, closed, response: () => response };
}

/** A WebSocket whose every message and close is recorded from the start (refusals come at once). */
function wsUntilClosed(url: string, localAddress?: string): Promise<{ messages: any[]; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress });
    const messages: any[] = [];
    ws.on("message", (d) => messages.push(...d.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l))));
    ws.on("close", (code, reason) => resolve({ messages, code, reason: reason.toString() }));
    ws.on("error", reject);
  });
}

/** Opens a WebSocket from `localAddress` and connects; resolves with the open client. */
async function wsConnect(h: TestHub, localAddress?: string): Promise<WebSocket> {
  const ws = new WebSocket(h.wsUrl, { localAddress });
  await once(ws, "open");
  const reply = new Promise((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()))));
  ws.send('{"id":1,"connect":{}}');
  expect(await reply).toMatchObject({ id: 1, connect: { client: expect.any(String) } });
  return ws;
}

/**
 * A GET whose response headers (and, unless it is an accepted SSE stream, body) arrived.
 * `close()` cuts the connection (ends an SSE stream).
 */
function get(url: string, localAddress?: string): Promise<{ status: number; res: IncomingMessage; body: string; close(): void }> {
  return new Promise((resolve, reject) => {
    // agent: false: a connection of its own, so close() ends exactly this request.
    const req = http.get(url, { localAddress, agent: false }, (res) => {
      const close = () => req.destroy();
      if (res.statusCode === 200 && res.headers["content-type"] === "text/event-stream")
        return resolve({ status: 200, res, body: "", close });
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, res, body, close }));
    });
    req.on("error", reject);
  });
}

/** The first long-poll request: a session is created; returns its client id. */
async function openPoll(h: TestHub, channel: string, localAddress?: string): Promise<string> {
  const r = await get(`${h.httpUrl}/connection/poll?channel=${channel}`, localAddress);
  expect(r.status).toBe(200);
  return JSON.parse(r.body.split("\n")[0]!).connect.client;
}

async function api(h: TestHub, method: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (h.config.apiKey) headers.Authorization = `apikey ${h.config.apiKey}`;
  return fetch(`${h.httpUrl}/api/${method}`, { method: "POST", headers, body: JSON.stringify(body) });
}

/** One sample of /metrics, e.g. metric(h, "realtime_connections", 'transport="sse"'). */
async function metric(h: TestHub, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + "{") && l.includes(label));
  if (!line) throw new Error(`no ${name}{${label}} in /metrics`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

const openConnections = async (h: TestHub) =>
  (await metric(h, "realtime_connections", 'transport="websocket"')) +
  (await metric(h, "realtime_connections", 'transport="sse"')) +
  (await metric(h, "realtime_connections", 'transport="longpoll"'));

describe("HTTP request timeouts and client aborts", () => {
  let hub: TestHub;
  const logs: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
  beforeAll(async () => {
    const log = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    hub = await startTestHub({ apiKey: "k3y", httpHeadersTimeoutSeconds: 1, httpBodyTimeoutSeconds: 1 }, { log });
  });
  afterAll(async () => hub?.stop());

  const partialPublish = "POST /api/publish HTTP/1.1\r\nHost: hub\r\nAuthorization: apikey k3y\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + '{"channel"';

  it("a request whose body never finishes gets 408 and is closed", async () => {
    const { closed } = rawClient(hub, partialPublish);
    const { response, afterMs } = await closed;
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code: 106 } });
    // Headers + body timeouts (2 s here), not something else closing it early; checked
    // every second, so well within 10 s even on a loaded machine.
    expect(afterMs).toBeGreaterThanOrEqual(1500);
    expect(afterMs).toBeLessThan(10_000);
  });

  it("what the HTTP parser refuses is answered with the JSON error body too (found by the fuzzer)", async () => {
    const bodyOf = (r: string) => JSON.parse(r.slice(r.indexOf("\r\n\r\n") + 4));
    const malformed = await rawClient(hub, "GET / HTTP/1.1\r\nHost hub\r\n\r\n").closed;
    expect(malformed.response).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(malformed.response)).toMatchObject({ error: { code: 107 } });
    const huge = await rawClient(hub, `GET /health?${"x".repeat(20_000)} HTTP/1.1\r\nHost: hub\r\n\r\n`).closed;
    expect(huge.response).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(huge.response)).toMatchObject({ error: { code: 106 } });
  });

  it("headers that never finish get 408 and are closed, however slowly they trickle", async () => {
    const { socket, closed } = rawClient(hub, "POST /api/publish HTTP/1.1\r\nHost: hub\r\n");
    let n = 0;
    const trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${n++}: 1\r\n`), 200);
    try {
      const { response, afterMs } = await closed;
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
      expect(afterMs).toBeGreaterThanOrEqual(900);
      expect(afterMs).toBeLessThan(10_000);
    } finally {
      clearInterval(trickle);
    }
  });

  it("SSE streams, long polls and WebSockets outlive the request timeouts", async () => {
    const sse = await get(`${hub.httpUrl}/connection/sse?channel=stream:long`);
    expect(sse.status).toBe(200);
    let sseText = "";
    sse.res.on("data", (c) => (sseText += c));
    const ws = await TestWsClient.connect(hub.wsUrl);
    await ws.call({ subscribe: { channel: "stream:long" } });
    const first = await get(`${hub.httpUrl}/connection/poll?channel=stream:long`);
    const pollClient = JSON.parse(first.body.split("\n")[0]!).connect.client;
    const pending = get(`${hub.httpUrl}/connection/poll?client=${pollClient}&secret=${first.res.headers["x-poll-secret"]}`);
    // A request started after all of them is cut by the timeout: their deadlines, were they
    // concerned, passed before its own.
    const { response } = await rawClient(hub, partialPublish).closed;
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(sse.res.destroyed).toBe(false);
    expect((await api(hub, "publish", { channel: "stream:long", data: { still: "here" } })).status).toBe(200);
    expect((await ws.waitFor((m) => m.push?.pub)).push.pub.data).toEqual({ still: "here" });
    await until(() => sseText.includes('"still":"here"'), { what: "the publication on the SSE stream" });
    const polled = await pending;
    expect(polled.status).toBe(200);
    expect(polled.body).toContain('"still":"here"');
    ws.close();
    sse.close();
    await api(hub, "disconnect", { client: pollClient });
  });

  it("a client aborting mid-body is logged at debug, not as an error", async () => {
    const before = logs.length;
    const { socket, closed } = rawClient(hub, partialPublish);
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await closed;
    await until(() => logs.slice(before).some((l) => l.level === 20 && /went away/.test(l.msg)), { what: "the debug line" });
    // Neither this abort nor the timeouts above are logged as errors.
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it("tells a client abort from a real failure", () => {
    const gone = new Error("aborted") as NodeJS.ErrnoException;
    gone.code = "ECONNRESET";
    const req = (r: object) => r as IncomingMessage;
    expect(clientAborted(req({ destroyed: true, complete: false, errored: gone }), gone)).toBe(true);
    expect(clientAborted(req({ destroyed: true, complete: false, errored: null }), gone)).toBe(true);
    // The body arrived: what failed afterwards is the hub's, even if the client left since.
    expect(clientAborted(req({ destroyed: true, complete: true, errored: null }), gone)).toBe(false);
    expect(clientAborted(req({ destroyed: false, complete: false, errored: null }), gone)).toBe(false);
    expect(clientAborted(req({ destroyed: true, complete: false, errored: null }), new Error("store down"))).toBe(false);
  });
});

describe("connection caps", () => {
  let hub: TestHub | undefined;
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });

  it("past maxConnections a WebSocket is told the node is full (3014) and closed", async () => {
    const h = (hub = await startTestHub({ maxConnections: 2 }));
    const open = [await wsConnect(h), await wsConnect(h)];
    const refused = await wsUntilClosed(h.wsUrl);
    expect(refused.code).toBe(3014);
    expect(refused.reason).toMatch(/node full/);
    expect(refused.messages).toEqual([{ push: { disconnect: { code: 3014, reason: expect.stringMatching(/node full/), reconnect: true } } }]);
    expect(await metric(h, "realtime_connections_refused_total", 'reason="node_limit"')).toBe(1);
    expect(await metric(h, "realtime_connections_refused_total", 'reason="ip_limit"')).toBe(0);
    expect(await metric(h, "realtime_connections", 'transport="websocket"')).toBe(2);
    for (const ws of open) ws.close();
  });

  it("past maxConnections SSE and long-polling get 503 LIMIT_EXCEEDED, temporary", async () => {
    const h = (hub = await startTestHub({ maxConnections: 2 }));
    const sse = await get(`${h.httpUrl}/connection/sse?channel=full`);
    expect(sse.status).toBe(200);
    await openPoll(h, "full");
    const full = { error: { code: 106, message: expect.stringMatching(/node full/), temporary: true } };
    for (const path of ["sse", "poll"]) {
      const r = await get(`${h.httpUrl}/connection/${path}?channel=full`);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual(full);
    }
    expect(await metric(h, "realtime_connections", 'transport="sse"')).toBe(1);
    expect(await metric(h, "realtime_connections", 'transport="longpoll"')).toBe(1);
    expect(await metric(h, "realtime_connections_refused_total", 'reason="node_limit"')).toBe(2);
    sse.close();
  });

  it("past maxConnectionsPerIp: WebSocket 3505, SSE and long-polling 429", async () => {
    const h = (hub = await startTestHub({ maxConnectionsPerIp: 2 }));
    const ws = await wsConnect(h);
    const sse = await get(`${h.httpUrl}/connection/sse?channel=ip`);
    expect(sse.status).toBe(200);
    const refused = await wsUntilClosed(h.wsUrl);
    expect(refused.code).toBe(3505);
    expect(refused.messages[0].push.disconnect).toEqual({ code: 3505, reason: expect.stringMatching(/too many connections/) }); // reconnect: false, omitted
    for (const path of ["sse", "poll"]) {
      const r = await get(`${h.httpUrl}/connection/${path}?channel=ip`);
      expect(r.status).toBe(429);
      expect(JSON.parse(r.body)).toEqual({ error: { code: 106, message: expect.stringMatching(/too many connections/), temporary: false } });
    }
    expect(await metric(h, "realtime_connections_refused_total", 'reason="ip_limit"')).toBe(3);
    expect(await metric(h, "realtime_connections_refused_total", 'reason="node_limit"')).toBe(0);
    ws.close();
    sse.close();
  });

  it.runIf(otherIpUsable)("the per-IP cap counts each address apart", async () => {
    const h = (hub = await startTestHub({ maxConnectionsPerIp: 1 }));
    const mine = await wsConnect(h);
    expect((await wsUntilClosed(h.wsUrl)).code).toBe(3505);
    const other = await wsConnect(h, OTHER_IP);
    const sse = await get(`${h.httpUrl}/connection/sse?channel=ip`, OTHER_IP);
    expect(sse.status).toBe(429);
    mine.close();
    other.close();
  });

  it("every way a connection ends gives its slot back", async () => {
    const h = (hub = await startTestHub({ maxConnections: 3, maxConnectionsPerIp: 3 }));
    for (let round = 0; round < 3; round++) {
      // Connections that fail early: invalid channels (SSE, long-poll), a WebSocket that
      // never connects, a refused one. None may keep a slot.
      for (let i = 0; i < 4; i++) {
        expect((await get(`${h.httpUrl}/connection/sse?channel=bad%20name`)).status).toBe(400);
        expect((await get(`${h.httpUrl}/connection/poll?channel=bad%20name`)).status).toBe(400);
        const silent = new WebSocket(h.wsUrl);
        await once(silent, "open");
        silent.close();
        await once(silent, "close");
      }
      await until(async () => (await openConnections(h)) === 0, { what: "no open connections" });
      // The node is full with one of each...
      const ws = await wsConnect(h);
      const sse = await get(`${h.httpUrl}/connection/sse?channel=cycle`);
      expect(sse.status).toBe(200);
      const poll = await openPoll(h, "cycle");
      expect((await wsUntilClosed(h.wsUrl)).code).toBe(3505);
      expect((await get(`${h.httpUrl}/connection/sse?channel=cycle`)).status).toBe(429);
      // ...and empty again once each has closed its own way.
      ws.close();
      sse.close();
      expect((await api(h, "disconnect", { client: poll })).status).toBe(200);
      await until(async () => (await openConnections(h)) === 0, { what: "the slots back" });
    }
    expect(await metric(h, "realtime_connections_refused_total", 'reason="ip_limit"')).toBe(6);
  });
});

describe("limits per client", () => {
  const SECRET = "edge-limits-secret";
  let hub: TestHub | undefined;
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });
  const refusals = (h: TestHub, limit: string) => metric(h, "realtime_limit_refusals_total", `limit="${limit}"`);
  /** The replies to the commands of one frame, in order, once all are in. */
  async function sendFrame(c: TestWsClient, cmds: Array<Record<string, unknown>>, firstId: number): Promise<any[]> {
    c.sendRaw(cmds.map((cmd, i) => JSON.stringify({ id: firstId + i, ...cmd })).join("\n"));
    const last = firstId + cmds.length - 1;
    await c.waitFor((m) => m.id === last);
    return c.messages.filter((m) => m.id >= firstId && m.id <= last);
  }

  it("past maxConnectionsPerUser the connect gets error 106 and the WebSocket closes with 3505; SSE and long-poll get 429", async () => {
    const h = (hub = await startTestHub({ maxConnectionsPerUser: 2, tokenHmacSecret: SECRET }));
    const alice = await signToken(SECRET, { sub: "alice" });
    const open = [await TestWsClient.connect(h.wsUrl, alice), await TestWsClient.connect(h.wsUrl, alice)];
    const third = await TestWsClient.open(h.wsUrl);
    const reply = await third.call({ connect: { token: alice } });
    expect(reply.error).toEqual({ code: 106, message: expect.stringMatching(/too many connections of this user/) });
    expect(await third.waitClosed()).toBe(3505);
    expect(third.messages.at(-1)).toEqual({ push: { disconnect: { code: 3505, reason: "too many connections of this user" } } });
    for (const path of ["sse", "poll"]) {
      const r = await get(`${h.httpUrl}/connection/${path}?channel=user&token=${alice}`);
      expect(r.status).toBe(429);
      expect(JSON.parse(r.body)).toEqual({ error: { code: 106, message: expect.stringMatching(/too many connections of this user/), temporary: false } });
    }
    // Another user, and anonymous connections, are not concerned.
    const bob = await TestWsClient.connect(h.wsUrl, await signToken(SECRET, { sub: "bob" }));
    const anonymous = [await TestWsClient.connect(h.wsUrl), await TestWsClient.connect(h.wsUrl), await TestWsClient.connect(h.wsUrl)];
    expect(await refusals(h, "connections_per_user")).toBe(3);
    // A slot given back is taken again.
    open[0]!.close();
    await until(async () => (await TestWsClient.open(h.wsUrl).then(async (c) => {
      const ok = !(await c.call({ connect: { token: alice } })).error;
      if (ok) open.push(c);
      else await c.waitClosed();
      return ok;
    })), { what: "alice's slot back" });
    for (const c of [...open, bob, ...anonymous]) c.close();
  });

  it("past maxChannelsPerClient a subscribe gets error 106", async () => {
    const h = (hub = await startTestHub({ maxChannelsPerClient: 2 }));
    const c = await TestWsClient.connect(h.wsUrl);
    for (const channel of ["subs:1", "subs:2"]) expect((await c.call({ subscribe: { channel } })).subscribe).toBeDefined();
    expect((await c.call({ subscribe: { channel: "subs:3" } })).error).toEqual({ code: 106, message: "at most 2 channels per connection" });
    expect(await refusals(h, "channels_per_connection")).toBe(1);
    expect((await c.call({ unsubscribe: { channel: "subs:1" } })).unsubscribe).toBeDefined();
    expect((await c.call({ subscribe: { channel: "subs:3" } })).subscribe).toBeDefined();
    c.close();
  });

  it("past clientCommandRate commands get error 111; going on at twice the rate closes with 3501", async () => {
    // A small rate, so the time a loaded machine takes between frames adds hardly a token.
    const h = (hub = await startTestHub({ clientCommandRate: 0.5, clientCommandBurst: 4 }));
    const c = await TestWsClient.connect(h.wsUrl); // 3 tokens left
    const replies = await sendFrame(c, Array.from({ length: 5 }, () => ({ ping: {} })), 2);
    expect(replies.slice(0, 3)).toEqual([{ id: 2, ping: {} }, { id: 3, ping: {} }, { id: 4, ping: {} }]);
    expect(replies.slice(3).map((r) => r.error)).toEqual([1, 2].map(() => ({ code: 111, message: expect.stringMatching(/clientCommandRate 0.5\/s/), temporary: true })));
    expect(c.closeCode).toBeNull();
    expect(await refusals(h, "command_rate")).toBe(2);
    // Grace for 2 more refusals (4, less the 2 above), then the connection is closed.
    c.sendRaw([10, 11, 12, 13].map((id) => JSON.stringify({ id, ping: {} })).join("\n"));
    expect(await c.waitClosed()).toBe(3501);
    expect(c.messages.at(-1).push.disconnect).toEqual({ code: 3501, reason: expect.stringMatching(/too many requests/) });
    expect(await refusals(h, "command_rate")).toBe(4);
    expect(await refusals(h, "rate_flood")).toBe(1);
  });

  it("past clientPublishRate a publish gets error 111 and is not delivered", async () => {
    const h = (hub = await startTestHub({ clientPublishRate: 0.5, clientPublishBurst: 2 }));
    const c = await TestWsClient.connect(h.wsUrl);
    await c.call({ subscribe: { channel: "prate" } });
    const replies = await sendFrame(c, [...[1, 2, 3].map((n) => ({ publish: { channel: "prate", data: { n } } })), { ping: {} }], 10);
    expect(replies.map((r) => (r.error ? r.error.code : Object.keys(r).find((k) => k !== "id")))).toEqual(["publish", "publish", 111, "ping"]);
    await c.waitFor((m) => m.push?.pub?.data?.n === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.pubs("prate").map((p) => p.data.n)).toEqual([1, 2]);
    expect(await refusals(h, "publish_rate")).toBe(1);
    expect(await refusals(h, "command_rate")).toBe(0);
    c.close();
  });

  it("a WebSocket frame past maxMessageBytes closes the connection with 1009, counted", async () => {
    const h = (hub = await startTestHub({ maxMessageBytes: 4096 }));
    const c = await TestWsClient.connect(h.wsUrl);
    expect((await c.call({ publish: { channel: "size", data: "x".repeat(3000) } })).publish).toBeDefined();
    expect(await refusals(h, "message_size")).toBe(0);
    c.sendRaw(JSON.stringify({ id: 9, publish: { channel: "size", data: "x".repeat(5000) } }));
    expect(await c.waitClosed()).toBe(1009);
    await until(async () => (await refusals(h, "message_size")) === 1, { what: "the refusal counted" });
  });
});
