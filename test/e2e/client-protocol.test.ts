import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import type { AddressInfo } from "node:net";
import { RealtimeClient, type ClientOptions, type Publication, type SubscribedContext } from "../../clients/js/src/index.js";
import { until } from "../helpers/until.js";

/**
 * The browser client against a scripted fake hub (Node, `ws` standing in for the browser's
 * WebSocket): the exact frames it sends, and how it reacts to frames, closes and silence that
 * a real hub produces only in rare moments.
 */

/** One connection as the fake hub sees it: every JSON line received, and a way to answer. */
class Conn {
  readonly lines: any[] = [];
  readonly frames: string[] = [];
  closed = false;
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const text = data.toString();
      this.frames.push(text);
      for (const l of text.split("\n")) if (l.trim()) this.lines.push(JSON.parse(l));
    });
    ws.on("close", () => {
      this.closed = true;
    });
  }
  /** Waits for the n-th (1-based) line received. */
  async line(n: number): Promise<any> {
    await until(() => this.lines.length >= n);
    return this.lines[n - 1];
  }
  send(...objects: unknown[]): void {
    this.ws.send(objects.map((o) => (typeof o === "string" ? o : JSON.stringify(o))).join("\n"));
  }
}

class FakeHub {
  readonly conns: Conn[] = [];
  private constructor(readonly wss: WebSocketServer) {
    wss.on("connection", (ws) => this.conns.push(new Conn(ws)));
  }
  static async start(): Promise<FakeHub> {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((r) => wss.once("listening", r));
    return new FakeHub(wss);
  }
  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/connection/websocket`;
  }
  async conn(n: number): Promise<Conn> {
    await until(() => this.conns.length >= n);
    return this.conns[n - 1]!;
  }
  /** Answers the connect command of connection `n`. */
  async accept(n: number, result: Record<string, unknown> = {}): Promise<Conn> {
    const c = await this.conn(n);
    const cmd = await c.line(1);
    c.send({ id: cmd.id, connect: { client: `client-${n}`, version: "fake", ping: 25, ...result } });
    return c;
  }
  close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let hub: FakeHub | undefined;
let client: RealtimeClient | undefined;
afterEach(async () => {
  client?.disconnect();
  await hub?.close();
  client = hub = undefined;
});

function newClient(opts: ClientOptions = {}): RealtimeClient {
  client = new RealtimeClient(hub!.url, {
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    minReconnectDelay: 10,
    maxReconnectDelay: 50,
    ...opts,
  });
  return client;
}

describe("browser client protocol (fake hub)", () => {
  it("connects, subscribes, answers pings, handles batched frames, resubscribes with recovery", async () => {
    hub = await FakeHub.start();
    const c = newClient();
    const pubs: Publication[] = [];
    const subscribed: SubscribedContext[] = [];
    const errors: number[] = [];
    const disconnects: unknown[] = [];
    c.on("error", (e) => errors.push(e.code));
    c.on("disconnected", (d) => disconnects.push(d));
    const sub = c.subscribe("chat:1", { onPublication: (p) => pubs.push(p), onSubscribed: (s) => subscribed.push(s) });
    c.connect();
    expect(c.state).toBe("connecting");

    const first = await hub.conn(1);
    expect(await first.line(1)).toEqual({ id: 1, connect: { name: "realtime-hub-js", version: "0.1.0" } });
    first.send({ id: 1, connect: { client: "c1", version: "x", ping: 25, node: "n1" } });
    expect(await first.line(2)).toEqual({ id: 2, subscribe: { channel: "chat:1" } });
    expect(c.state).toBe("connected");
    expect(c.clientId).toBe("c1");

    // One frame: the subscribe reply, a publication, a malformed line, and a server ping.
    first.ws.send(
      [
        JSON.stringify({ id: 2, subscribe: { recoverable: true, epoch: "e1", offset: "4" } }),
        JSON.stringify({ push: { channel: "chat:1", pub: { data: { n: 5 }, offset: "5", epoch: "e1", info: { client: "c9" }, time: "1700000000000" } } }),
        "this is not json",
        "{}",
      ].join("\n"),
    );
    expect(await first.line(3)).toEqual({ id: 3, ping: {} });
    first.send({ id: 3, ping: {} });
    expect(pubs.map((p) => p.data)).toEqual([{ n: 5 }]);
    expect(pubs[0]).toMatchObject({ offset: "5", epoch: "e1", info: { user: "", client: "c9" }, time: 1700000000000, tags: {} });
    expect(subscribed).toEqual([{ recoverable: true, wasRecovering: false, recovered: false, epoch: "e1", offset: "4" }]);
    expect(errors).toEqual([6]); // BAD_FRAME, and the connection lives on
    expect(sub.state).toBe("subscribed");
    expect([sub.epoch, sub.offset]).toEqual(["e1", "5"]);

    // The hub goes away politely: disconnect push, then the close.
    first.send({ push: { disconnect: { code: 3001, reason: "shutdown", reconnect: true } } });
    first.ws.close(3001, "shutdown");
    const second = await hub.accept(2);
    const resub = await second.line(2);
    expect(resub.subscribe).toEqual({ channel: "chat:1", recover: true, epoch: "e1", offset: "5" });
    expect(disconnects).toEqual([{ code: 3001, reason: "shutdown", reconnect: true }]);
    // Recovery overlaps what was seen (5) and what arrives live (7): each is delivered once.
    const pub = (n: number) => ({ data: { n }, offset: String(n), epoch: "e1" });
    second.send(
      { id: resub.id, subscribe: { recoverable: true, epoch: "e1", offset: "7", recovered: true, wasRecovering: true, publications: [pub(5), pub(6), pub(7)] } },
      { push: { channel: "chat:1", pub: pub(7) } },
      { push: { channel: "chat:1", pub: pub(8) } },
    );
    await until(() => pubs.length >= 4);
    await sleep(30);
    expect(pubs.map((p) => p.offset)).toEqual(["5", "6", "7", "8"]);
    expect(subscribed[1]).toEqual({ recoverable: true, wasRecovering: true, recovered: true, epoch: "e1", offset: "7" });

    // reconnect:false in the disconnect push wins over a close code that would allow it.
    second.send({ push: { disconnect: { code: 3000, reason: "go away", reconnect: false } } });
    second.ws.close(3000, "go away");
    await until(() => c.state === "disconnected");
    await sleep(150);
    expect(hub.conns).toHaveLength(2);
    expect(disconnects[1]).toEqual({ code: 3000, reason: "go away", reconnect: false });
  });

  it("queues commands made while connecting and sends them after the resubscribes, in one frame", async () => {
    hub = await FakeHub.start();
    const c = newClient();
    c.subscribe("a");
    c.subscribe("b");
    c.connect();
    const published = c.publish("a", { hi: 1 });
    const conn = await hub.accept(1);
    await conn.line(4);
    expect(conn.frames[1]!.split("\n").map((l) => JSON.parse(l))).toEqual([
      { id: 3, subscribe: { channel: "a" } },
      { id: 4, subscribe: { channel: "b" } },
      { id: 1, publish: { channel: "a", data: { hi: 1 } } },
    ]);
    conn.send({ id: 1, publish: { offset: "1", epoch: "e" } });
    expect(await published).toEqual({ offset: "1", epoch: "e" });
  });

  it("rejects with the hub's error, times out silent commands, and fails fast when disconnected", async () => {
    hub = await FakeHub.start();
    const c = newClient({ timeout: 150 });
    await expect(c.publish("x", 1)).rejects.toMatchObject({ code: 2, name: "RealtimeError" });
    c.connect();
    const conn = await hub.accept(1);
    const denied = c.publish("x", 1);
    const cmd = await conn.line(2);
    conn.send({ id: cmd.id, error: { code: 103, message: "permission denied" } });
    await expect(denied).rejects.toMatchObject({ code: 103, message: "permission denied", temporary: false });
    await expect(c.presence("x")).rejects.toMatchObject({ code: 1 }); // no reply
  });

  it("does not reconnect after a 35xx close, does after an abrupt one", async () => {
    hub = await FakeHub.start();
    const c = newClient();
    c.connect();
    (await hub.accept(1)).ws.terminate(); // no close frame at all (1006)
    (await hub.accept(2)).ws.close(3503, "invalid token");
    await until(() => c.state === "disconnected");
    await sleep(150);
    expect(hub.conns).toHaveLength(2);
  });

  it("treats a connection without server pings as dead", async () => {
    hub = await FakeHub.start();
    const c = newClient({ maxServerPingDelay: 100 });
    const lost: unknown[] = [];
    c.on("disconnected", (d) => lost.push(d));
    c.connect();
    await hub.accept(1, { ping: 1 }); // promises a ping each second, then says nothing
    await hub.conn(2);
    expect(lost).toEqual([{ code: 0, reason: "no ping from the hub", reconnect: true }]);
  });

  it("refuses to connect and stops when the hub rejects the token", async () => {
    hub = await FakeHub.start();
    const c = newClient({ token: "bad" });
    const errors: number[] = [];
    c.on("error", (e) => errors.push(e.code));
    c.connect();
    const conn = await hub.conn(1);
    expect((await conn.line(1)).connect.token).toBe("bad");
    conn.send({ id: 1, error: { code: 101, message: "invalid token" } });
    await until(() => c.state === "disconnected");
    expect(errors).toEqual([101]);
    await sleep(100);
    expect(hub.conns).toHaveLength(1);
  });
});
