import { afterEach, describe, expect, it } from "vitest";
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { transportContract, type TransportPeer } from "../contract/transport.js";
import { WebSocketTransport } from "../../src/transport/websocket.js";
import { SseTransport } from "../../src/transport/sse.js";
import { LongPollTransport } from "../../src/transport/longpoll.js";
import { Disconnect } from "../../src/errors.js";
import { DisconnectCode } from "../../src/gen/realtime/v1/types.js";
import { Frame, publicationFrame } from "../../src/protocol/frame.js";
import { until } from "../helpers/until.js";

/** How long a harness poll waits on the long-poll transport (short: pausing waits for it). */
const POLL_TIMEOUT_MS = 250;

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function stop(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

interface WebSocketPeer extends TransportPeer {
  /** WebSocket messages the client received (one per batch). */
  messages(): number;
  /** Close code and reason the client saw; null until it closed. */
  closed(): { code: number; reason: string } | null;
}

/** A WebSocketTransport on a ws server socket, as WebSocketEdge makes it, with a ws client. */
async function websocketPeer(): Promise<WebSocketPeer> {
  const server = http.createServer((_req, res) => void res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  let serverWs: WebSocket | undefined;
  const accepted = new Promise<WebSocketTransport>((resolve) => {
    server.on("upgrade", (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on("error", () => undefined); // as WebSocketEdge: errors are followed by 'close'
        serverWs = ws;
        resolve(new WebSocketTransport(ws));
      }),
    );
  });
  const port = await listen(server);
  const client = new WebSocket(`ws://127.0.0.1:${port}/connection/websocket`, { perMessageDeflate: false });
  client.on("error", () => undefined);
  const received: string[] = [];
  let messages = 0;
  let closed: { code: number; reason: string } | null = null;
  client.on("message", (data, isBinary) => {
    messages++;
    // The protocol speaks text frames: a binary one is recorded as a frame no test expects.
    if (isBinary) return void received.push("<binary WebSocket frame>");
    for (const line of (data as Buffer).toString("utf8").split("\n")) if (line !== "") received.push(line);
  });
  client.on("close", (code, reason) => (closed = { code, reason: reason.toString("utf8") }));
  const transport = await accepted;
  await until(() => client.readyState === WebSocket.OPEN, { what: "the WebSocket client open" });
  return {
    transport,
    received,
    messages: () => messages,
    closed: () => closed,
    ended: () => closed !== null,
    // ws errors are followed by 'close' and handled as WebSocketEdge does: none is a fault.
    faults: () => [],
    pause: async () => client.pause(),
    resume: () => client.resume(),
    vanish: async () => {
      client.terminate();
      await until(() => serverWs?.readyState === WebSocket.CLOSED, { what: "the server socket to notice the client left" });
    },
    dispose: async () => {
      client.terminate();
      serverWs?.terminate();
      wss.close();
      await stop(server);
    },
  };
}

interface SsePeer extends TransportPeer {
  /** Every event's `id:` ("" when it has none), in order, alongside `received`. */
  readonly eventIds: readonly string[];
  response(): IncomingMessage | undefined;
}

/** An SseTransport opened on the ServerResponse of a request, read by an http client. */
async function ssePeer(): Promise<SsePeer> {
  let serverRes: ServerResponse | undefined;
  let serverGone = false;
  const faults: unknown[] = [];
  const server = http.createServer();
  const accepted = new Promise<SseTransport>((resolve) => {
    server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
      serverRes = res;
      res.on("close", () => (serverGone = true));
      res.on("error", (err) => faults.push(err)); // the SSE edge has no such listener: it would crash
      const t = new SseTransport(res);
      t.open();
      resolve(t);
    });
  });
  const port = await listen(server);
  const received: string[] = [];
  const eventIds: string[] = [];
  let res: IncomingMessage | undefined;
  let paused = false;
  let ended = false;
  const req = http.get({ host: "127.0.0.1", port, path: "/connection/sse", agent: false, headers: { Accept: "text/event-stream" } });
  req.on("error", () => (ended = true));
  req.on("close", () => (ended = true));
  req.on("response", (r) => {
    res = r;
    r.setEncoding("utf8"); // decodes characters split between chunks
    let buf = "";
    r.on("data", (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data: string[] = [];
        let id = "";
        for (const line of event.split("\n")) {
          if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
          else if (line.startsWith("id:")) id = line.slice(line.startsWith("id: ") ? 4 : 3);
        }
        received.push(data.join("\n"));
        eventIds.push(id);
      }
    });
    if (paused) r.pause();
    r.on("end", () => (ended = true));
  });
  const transport = await accepted;
  return {
    transport,
    received,
    eventIds,
    response: () => res,
    ended: () => ended,
    faults: () => faults,
    pause: async () => {
      paused = true;
      res?.pause();
    },
    resume: () => {
      paused = false;
      res?.resume();
    },
    vanish: async () => {
      req.destroy();
      await until(() => serverGone, { what: "the server response to notice the client left" });
    },
    dispose: async () => {
      req.destroy();
      serverRes?.destroy();
      await stop(server);
    },
  };
}

/**
 * A LongPollTransport behind an http server that answers each poll with transport.poll(), as
 * the edge does (a closed session answers its last poll, then is unknown: 404), read by a
 * client polling in a loop.
 */
async function longPollPeer(): Promise<TransportPeer> {
  const transport = new LongPollTransport();
  let gone = false;
  const open = new Set<ServerResponse>();
  const faults: unknown[] = [];
  const server = http.createServer((req, res) => {
    if (gone) return void res.writeHead(404).end();
    open.add(res);
    res.on("close", () => open.delete(res));
    res.on("error", (err) => faults.push(err)); // the long-poll edge has no such listener: it would crash
    const timeoutMs = Number(new URL(req.url ?? "/", "http://x").searchParams.get("timeout"));
    transport.poll(res, timeoutMs);
    if (transport.closed) gone = true;
  });
  const port = await listen(server);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const received: string[] = [];
  let paused = false;
  let stopped = false;
  let ended = false;
  let running = false;
  let inFlight: ClientRequest | null = null;

  function get(): Promise<{ status: number; body: Buffer } | null> {
    return new Promise((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: `/connection/poll?timeout=${POLL_TIMEOUT_MS}`, agent }, (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
        r.on("error", () => resolve(null));
      });
      req.on("error", () => resolve(null));
      inFlight = req;
    });
  }

  async function loop(): Promise<void> {
    running = true;
    try {
      while (!paused && !stopped && !ended) {
        const r = await get();
        inFlight = null;
        if (!r) continue;
        if (r.status === 404) ended = true;
        else for (const line of r.body.toString("utf8").split("\n")) if (line !== "") received.push(line);
      }
    } finally {
      running = false;
    }
  }
  void loop();

  return {
    transport,
    received,
    ended: () => ended,
    faults: () => faults,
    pause: async () => {
      paused = true;
      await until(() => !running, { what: "the outstanding poll to return" });
    },
    resume: () => {
      paused = false;
      if (!running) void loop();
    },
    vanish: async () => {
      stopped = true;
      (inFlight)?.destroy();
      await until(() => !running && open.size === 0, { what: "the server to notice the poll was abandoned" });
    },
    dispose: async () => {
      stopped = true;
      (inFlight)?.destroy();
      await until(() => !running, { what: "the poll loop to stop" });
      agent.destroy();
      await stop(server);
    },
  };
}

transportContract("websocket", websocketPeer);
transportContract("sse", ssePeer);
transportContract("longpoll", longPollPeer);

describe("WebSocketTransport on the wire", () => {
  const peers: TransportPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.dispose();
  });
  const peer = async () => {
    const p = await websocketPeer();
    peers.push(p);
    return p;
  };
  const frame = (i: number) => publicationFrame("ws-batch", { data: Buffer.from(JSON.stringify({ i })), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" });

  it("sends the frames of one event-loop turn as one message of newline-separated lines, a lone frame as is", async () => {
    const p = await peer();
    p.transport.write(frame(-1));
    await until(() => p.received.length === 1);
    expect(p.messages()).toBe(1);
    for (let i = 0; i < 50; i++) p.transport.write(frame(i));
    await until(() => p.received.length === 51);
    expect(p.messages()).toBe(2);
    expect(p.received).toEqual([-1, ...Array.from({ length: 50 }, (_, i) => i)].map((i) => frame(i).json().toString("utf8")));
  });

  it("closes with the disconnect code and the reason cut to 123 bytes between characters; the push keeps it whole", async () => {
    const p = await peer();
    const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT, "é".repeat(40) + "日本語".repeat(30));
    p.transport.close(d);
    await until(() => p.closed());
    const { code, reason } = p.closed()!;
    expect(code).toBe(d.code);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(Buffer.byteLength(reason)).toBeGreaterThan(120);
    expect(d.reason.startsWith(reason)).toBe(true);
    expect(JSON.parse(p.received.at(-1)!).push.disconnect.reason).toBe(d.reason);
  });

  it("a second close() keeps the closing handshake of the first (no cut socket, 1006)", async () => {
    const p = await peer();
    const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_SHUTDOWN, "shutdown");
    p.transport.close(d);
    p.transport.close(new Disconnect(DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT, "again"));
    await until(() => p.closed());
    expect(p.closed()).toEqual({ code: d.code, reason: d.reason });
  });

  it("a code no close frame can carry: the push arrives, then the socket is cut (1006)", async () => {
    const p = await peer();
    const d = new Disconnect(5000 as DisconnectCode, "custom");
    p.transport.close(d);
    await until(() => p.closed());
    expect(p.closed()!.code).toBe(1006);
    expect(JSON.parse(p.received.at(-1)!).push.disconnect).toMatchObject({ code: 5000, reason: "custom" });
  });
});

describe("SseTransport on the wire", () => {
  const peers: TransportPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.dispose();
  });

  it("streams text/event-stream, one event per frame; publications with a stream position carry `id: <channel>:<epoch>:<offset>`", async () => {
    const p = await ssePeer();
    peers.push(p);
    const data = Buffer.from('{"x":1}');
    const frames = [
      publicationFrame("chat:a:b", { data, offset: "7", epoch: "e1", tags: {}, info: undefined, time: "0" }),
      publicationFrame("chat", { data, offset: "0", epoch: "", tags: {}, info: undefined, time: "0" }),
      new Frame({ id: 0, error: undefined }),
    ];
    for (const f of frames) p.transport.write(f);
    await until(() => p.received.length === 3);
    const res = p.response()!;
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    expect(p.eventIds).toEqual(["chat:a:b:e1:7", "", ""]);
    expect(p.received).toEqual(frames.map((f) => f.json().toString("utf8")));
  });
});
