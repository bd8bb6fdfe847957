import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { once } from "node:events";
import { Redis } from "ioredis";
import { PublishRequest, PublishResponse } from "../../src/gen/realtime/v1/hub.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { defaultNamespace } from "../../src/config.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { grpcClient, pubReq } from "../helpers/grpc-client.js";
import { hubRedisClients, startRedisServer, which } from "../helpers/processes.js";
import { requireTools } from "../helpers/require.js";
import { readSse } from "../helpers/sse-client.js";

let hub: TestHub;
/** The generated HubService client: backends publish with it. */
let g: ReturnType<typeof grpcClient>;
beforeAll(async () => {
  hub = await startTestHub({
    maxMessageBytes: 4096,
    clientQueueMaxBytes: 256 * 1024,
    namespaces: [{ ...defaultNamespace("nojl"), historySize: 10, historyTtlSeconds: 60 }],
  });
  g = grpcClient(hub.grpcAddr);
});
afterAll(async () => {
  g?.close();
  await hub?.stop();
});

async function api(method: string, body: unknown, headers: Record<string, string> = {}, h = hub) {
  const res = await fetch(`${h.httpUrl}/api/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? (body as any) : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null), res };
}

let bystanders = 0;

/**
 * Runs `badInput` while a second client, connected and subscribed before it, looks on; right
 * after it, publishes through the HTTP API and expects that client to receive the publication:
 * the node is up and the others are unaffected. `closes`: the bad input closed its own
 * connection, so also expect the node to still accept a new one.
 */
async function expectBystanderStillServed(badInput: () => Promise<void>, opts: { closes?: boolean; hub?: TestHub } = {}): Promise<void> {
  const h = opts.hub ?? hub;
  const channel = `bystander:${++bystanders}`;
  const bystander = await TestWsClient.connect(h.wsUrl);
  try {
    await bystander.call({ subscribe: { channel } });
    await badInput();
    const key: Record<string, string> = h.config.apiKey ? { Authorization: `apikey ${h.config.apiKey}` } : {};
    expect((await api("publish", { channel, data: { after: "bad input" } }, key, h)).status).toBe(200);
    const pub = await bystander.waitFor((m) => m.push?.pub && m.push.channel === channel);
    expect(pub.push.pub.data).toEqual({ after: "bad input" });
    if (opts.closes) {
      const fresh = await TestWsClient.connect(h.wsUrl);
      expect(await fresh.call({ ping: {} })).toEqual({ id: expect.any(Number), ping: {} });
      fresh.close();
    }
  } finally {
    bystander.close();
  }
}


describe("WebSocket edge", () => {
  it("speaks the JSON protocol of DESIGN.md end to end", async () => {
    const a = await TestWsClient.connect(hub.wsUrl);
    const b = await TestWsClient.connect(hub.wsUrl);
    const connect = a.messages.find((m) => m.id === 1).connect;
    expect(connect).toMatchObject({ version: expect.any(String), ping: 25, node: hub.node.id });
    expect(await a.call({ subscribe: { channel: "chat:1" } })).toMatchObject({ subscribe: { recoverable: true, epoch: expect.any(String) } });
    await b.call({ subscribe: { channel: "chat:1" } });
    expect(await a.call({ publish: { channel: "chat:1", data: { text: "hi" } } })).toMatchObject({ publish: { offset: "1" } });
    const got = await b.waitFor((m) => m.push?.pub);
    expect(got).toEqual({
      push: { channel: "chat:1", pub: { data: { text: "hi" }, offset: "1", epoch: expect.any(String), info: { client: a.messages[0].connect.client }, time: expect.any(String) } },
    });
    expect((await a.call({ presence: { channel: "chat:1" } })).presence.presence).toHaveProperty(b.messages[0].connect.client);
    expect((await a.call({ presenceStats: { channel: "chat:1" } })).presenceStats).toEqual({ numClients: 2, numUsers: 1 });
    const hist = await a.call({ history: { channel: "chat:1", limit: 10 } });
    expect(hist.history.publications.map((p: any) => p.data)).toEqual([{ text: "hi" }]);
    expect(await a.call({ unsubscribe: { channel: "chat:1" } })).toEqual({ id: expect.any(Number), unsubscribe: {} });
    await b.waitFor((m) => m.push?.leave?.info?.client === a.messages[0].connect.client);
    expect(await a.call({ ping: {} })).toEqual({ id: expect.any(Number), ping: {} });
    a.close();
    b.close();
  });

  it("several commands share one frame, newline-separated", async () => {
    const c = await TestWsClient.open(hub.wsUrl);
    c.sendRaw('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"multi"}}\n{"id":3,"ping":{}}');
    await c.waitFor((m) => m.id === 3);
    expect(c.messages.filter((m) => m.id).map((m) => m.id)).toEqual([1, 2, 3]);
    c.close();
  });

  it("recovers missed publications after a reconnect", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    const sub = (await c.call({ subscribe: { channel: "rec" } })).subscribe;
    await api("publish", { channel: "rec", data: { n: 1 } });
    await c.waitFor((m) => m.push?.pub);
    c.close();
    await api("publish", { channel: "rec", data: { n: 2 } });
    await api("publish", { channel: "rec", data: { n: 3 } });
    const again = await TestWsClient.connect(hub.wsUrl);
    const r = await again.call({ subscribe: { channel: "rec", recover: true, epoch: sub.epoch, offset: "1" } });
    expect(r.subscribe).toMatchObject({ recovered: true, offset: "3", wasRecovering: true });
    expect(r.subscribe.publications.map((p: any) => p.data.n)).toEqual([2, 3]);
    again.close();
  });

  describe("bad input never takes the node down", () => {
    it("malformed JSON: error reply, then close 3501", async () => {
      await expectBystanderStillServed(
        async () => {
          const c = await TestWsClient.connect(hub.wsUrl);
          c.sendRaw("{oops");
          expect((await c.waitFor((m) => m.error)).error).toMatchObject({ code: 107, message: "malformed JSON" });
          expect(await c.waitClosed()).toBe(3501);
        },
        { closes: true },
      );
    });

    it("unknown command: METHOD_NOT_FOUND, connection stays", async () => {
      await expectBystanderStillServed(async () => {
        const c = await TestWsClient.connect(hub.wsUrl);
        expect((await c.call({ teleport: {} })).error.code).toBe(104);
        expect((await c.call({ ping: {} })).ping).toEqual({});
        c.close();
      });
    });

    it("command before connect: UNAUTHORIZED", async () => {
      await expectBystanderStillServed(async () => {
        const c = await TestWsClient.open(hub.wsUrl);
        expect((await c.call({ subscribe: { channel: "x" } })).error).toMatchObject({ code: 101, message: "connect first" });
        c.close();
      });
    });

    it("oversize frame: closed with 1009", async () => {
      await expectBystanderStillServed(
        async () => {
          const c = await TestWsClient.connect(hub.wsUrl);
          c.sendRaw(JSON.stringify({ id: 2, publish: { channel: "big", data: "x".repeat(10_000) } }));
          expect(await c.waitClosed()).toBe(1009);
        },
        { closes: true },
      );
    });

    it("binary frame without the binary subprotocol: close 3501", async () => {
      await expectBystanderStillServed(
        async () => {
          const c = await TestWsClient.connect(hub.wsUrl);
          c.sendRaw(Buffer.from([1, 2, 3]));
          expect(await c.waitClosed()).toBe(3501);
        },
        { closes: true },
      );
    });

    it("a server disconnect with a long multi-byte reason closes cleanly and frees the session", async () => {
      await expectBystanderStillServed(
        async () => {
          const c = await TestWsClient.connect(hub.wsUrl);
          const client = c.messages[0].connect.client;
          const reason = "日本".repeat(30); // 180 bytes of UTF-8, over the 123 a close frame holds
          hub.node.disconnectUser({ user: "", client, code: 3504, reason });
          expect((await c.waitFor((m) => m.push?.disconnect)).push.disconnect).toEqual({ code: 3504, reason });
          expect(await c.waitClosed()).toBe(3504);
          expect(Buffer.byteLength(c.closeReason)).toBeLessThanOrEqual(123);
          expect(c.closeReason.length).toBeGreaterThan(0);
          expect(reason.startsWith(c.closeReason)).toBe(true);
          expect(hub.node.sessions.get(client)).toBeUndefined();
        },
        { closes: true },
      );
    });

    it("a server disconnect with a code a close frame cannot carry still closes the socket", async () => {
      await expectBystanderStillServed(
        async () => {
          const c = await TestWsClient.connect(hub.wsUrl);
          const client = c.messages[0].connect.client;
          hub.node.disconnectUser({ user: "", client, code: 5, reason: "odd code" });
          expect((await c.waitFor((m) => m.push?.disconnect)).push.disconnect).toMatchObject({ code: 5, reason: "odd code" });
          expect(await c.waitClosed(1000)).toBe(1006);
          expect(hub.node.sessions.get(client)).toBeUndefined();
        },
        { closes: true },
      );
    });

    it("invalid channel name: BAD_REQUEST naming it, connection stays", async () => {
      await expectBystanderStillServed(async () => {
        const c = await TestWsClient.connect(hub.wsUrl);
        expect((await c.call({ subscribe: { channel: "no spaces" } })).error).toMatchObject({ code: 107, message: expect.stringMatching(/^invalid channel name "no spaces"/) });
        expect((await c.call({ subscribe: { channel: "x".repeat(1000) } })).error).toMatchObject({ code: 107, message: expect.stringMatching(/longer than 255/) });
        // Nothing was subscribed, and the connection still works.
        expect(hub.node.hub.has("no spaces")).toBe(false);
        expect((await c.call({ ping: {} })).ping).toEqual({});
        c.close();
      });
    });

    it("subscribe twice: ALREADY_SUBSCRIBED, the first subscription still delivers once", async () => {
      await expectBystanderStillServed(async () => {
        const c = await TestWsClient.connect(hub.wsUrl);
        expect((await c.call({ subscribe: { channel: "twice" } })).subscribe).toBeDefined();
        expect((await c.call({ subscribe: { channel: "twice" } })).error).toMatchObject({ code: 105 });
        await api("publish", { channel: "twice", data: { n: 1 } });
        await c.waitFor((m) => m.push?.pub);
        expect((await c.call({ ping: {} })).ping).toEqual({});
        expect(c.pubs("twice").map((p) => p.data)).toEqual([{ n: 1 }]);
        c.close();
      });
    });

    it("publish into a namespace that forbids client publishing: PERMISSION_DENIED, nothing delivered", async () => {
      await expectBystanderStillServed(async () => {
        const c = await TestWsClient.connect(hub.wsUrl);
        await c.call({ subscribe: { channel: "nojl:ro" } });
        const r = await c.call({ publish: { channel: "nojl:ro", data: { x: 1 } } });
        expect(r.error).toMatchObject({ code: 103, message: expect.stringMatching(/may not publish/) });
        // The connection stays usable, and nothing reached the channel.
        expect((await c.call({ history: { channel: "nojl:ro", limit: 10 } })).history.publications ?? []).toEqual([]);
        expect(c.pubs("nojl:ro")).toEqual([]);
        c.close();
      });
    });

    it("a client that never reads is disconnected as slow; the others still get everything", async () => {
      await expectBystanderStillServed(
        async () => {
          const reader = await TestWsClient.connect(hub.wsUrl);
          await reader.call({ subscribe: { channel: "flood" } });
          const stuck = await TestWsClient.connect(hub.wsUrl);
          await stuck.call({ subscribe: { channel: "flood" } });
          (stuck.ws as any)._socket.pause(); // stop reading: the server's socket buffer fills up
          // Enough to overflow the kernel's socket buffers and then the 256 KiB queue limit.
          const payload = Buffer.from(JSON.stringify({ blob: "y".repeat(20_000) }));
          for (let i = 0; i < 1000; i++) {
            await hub.node.publish("flood", payload, { skipHistory: true });
            // Same process as the reader: let it read, as a real client on another machine would.
            if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2));
          }
          await reader.waitFor(() => reader.pubs("flood").length === 1000, 10_000);
          (stuck.ws as any)._socket.resume();
          const closed = await stuck.waitFor((m) => m.push?.disconnect, 10_000).catch(() => null);
          const code = await stuck.waitClosed(10_000);
          expect(code === 3008 || closed?.push.disconnect.code === 3008).toBe(true);
          reader.close();
        },
        { closes: true },
      );
    });
  });
});

/** Waits until `count` local connections are subscribed to `channel`. */
async function waitForSubscribers(channel: string, count: number, h = hub): Promise<void> {
  const end = Date.now() + 5000;
  while (h.node.hub.numSubscribers(channel) < count) {
    if (Date.now() > end) throw new Error(`${channel}: ${h.node.hub.numSubscribers(channel)} of ${count} subscribers`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("SSE and long-polling", () => {
  it("one publication of the generated gRPC client reaches WebSocket, SSE and long-poll clients", async () => {
    const ws = await TestWsClient.connect(hub.wsUrl);
    await ws.call({ subscribe: { channel: "nojl:fan" } });
    const stream = readSse(`${hub.httpUrl}/connection/sse?channel=nojl:fan`, 3);
    const first = await fetch(`${hub.httpUrl}/connection/poll?channel=nojl:fan`);
    const client = JSON.parse((await first.text()).split("\n")[0]!).connect.client;
    const next = fetch(`${hub.httpUrl}/connection/poll?client=${client}&secret=${first.headers.get("X-Poll-Secret")}`);
    await waitForSubscribers("nojl:fan", 3);
    const pos: any = await g.call("publish", pubReq("nojl:fan", { via: "grpc" }));
    const want = { data: { via: "grpc" }, offset: pos.offset, epoch: pos.epoch };
    expect((await ws.waitFor((m) => m.push?.pub)).push).toMatchObject({ channel: "nojl:fan", pub: want });
    const { events, close } = await stream;
    close();
    expect(events[2]!.data.push).toMatchObject({ channel: "nojl:fan", pub: want });
    const polled = (await (await next).text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(polled.map((m) => m.push)).toEqual([expect.objectContaining({ channel: "nojl:fan", pub: expect.objectContaining(want) })]);
    ws.close();
  });

  it("SSE delivers connect, subscribe reply and publications with resumable ids", async () => {
    // The `nojl` namespace has no join/leave, so the stream holds only what this test sends.
    const stream = readSse(`${hub.httpUrl}/connection/sse?channel=nojl:1`, 3);
    await waitForSubscribers("nojl:1", 1);
    expect(await g.call("publish", pubReq("nojl:1", { n: 1 }))).toMatchObject({ offset: "1" });
    const { events, close } = await stream;
    close();
    expect(events[0]!.data.connect.client).toEqual(expect.any(String));
    expect(events[1]!.data).toMatchObject({ id: 1, subscribe: { recoverable: true } });
    expect(events[2]!.data.push).toMatchObject({ channel: "nojl:1", pub: { data: { n: 1 }, offset: "1" } });
    expect(events[2]!.id).toBe(`nojl:1:${events[2]!.data.push.pub.epoch}:1`);
    // Resume with Last-Event-ID: what was published meanwhile comes first.
    await g.call("publish", pubReq("nojl:1", { n: 2 }));
    const resumed = await readSse(`${hub.httpUrl}/connection/sse?channel=nojl:1`, 3, { "Last-Event-ID": events[2]!.id! });
    resumed.close();
    expect(resumed.events[1]!.data.subscribe).toMatchObject({ recovered: true, wasRecovering: true });
    expect(resumed.events[2]!.data.push.pub.data).toEqual({ n: 2 });
  });

  it("SSE refuses a request without a channel with a clear HTTP error", async () => {
    await expectBystanderStillServed(async () => {
      await expect(readSse(`${hub.httpUrl}/connection/sse`, 1)).rejects.toThrow(/400.*channel/);
    });
  });

  it("SSE refuses an invalid channel name with a clear HTTP error", async () => {
    await expectBystanderStillServed(async () => {
      await expect(readSse(`${hub.httpUrl}/connection/sse?channel=bad%20name`, 1)).rejects.toThrow(/400.*invalid channel/);
    });
  });

  it("long-polling delivers the same pushes", async () => {
    const first = await fetch(`${hub.httpUrl}/connection/poll?channel=lp:1`);
    const lines = (await first.text()).trim().split("\n").map((l) => JSON.parse(l));
    const client = lines[0].connect.client;
    const secret = first.headers.get("X-Poll-Secret");
    expect(lines[1]).toMatchObject({ id: 1, subscribe: {} });
    const next = fetch(`${hub.httpUrl}/connection/poll?client=${client}&secret=${secret}`);
    await new Promise((r) => setTimeout(r, 100));
    await g.call("publish", pubReq("lp:1", { n: 1 }));
    const got = (await (await next).text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(got[0].push).toMatchObject({ channel: "lp:1", pub: { data: { n: 1 } } });
    const gone = await fetch(`${hub.httpUrl}/connection/poll?client=nope`);
    expect(gone.status).toBe(404);
  });
  it("a long-poll session answers only to its secret, not to the public client id", async () => {
    const first = await fetch(`${hub.httpUrl}/connection/poll?channel=nojl:lp-secret`);
    const client = JSON.parse((await first.text()).split("\n")[0]!).connect.client;
    const secret = first.headers.get("X-Poll-Secret")!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await api("publish", { channel: "nojl:lp-secret", data: { n: 1 } });
    const unknown = await fetch(`${hub.httpUrl}/connection/poll?client=nope&secret=${secret}`);
    const unknownBody = await unknown.json();
    for (const query of [`client=${client}`, `client=${client}&secret=`, `client=${client}&secret=${secret.slice(0, -1)}x`]) {
      const thief = await fetch(`${hub.httpUrl}/connection/poll?${query}&timeout=0`);
      expect(thief.status).toBe(404);
      expect(await thief.json()).toEqual(unknownBody);
    }
    const own = await fetch(`${hub.httpUrl}/connection/poll?client=${client}&secret=${secret}`);
    const got = (await own.text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(got.map((m) => m.push?.pub?.data)).toEqual([{ n: 1 }]);
  });
});

describe("long-polling after the server closed a session", () => {
  it("keeps the disconnect push for the client's next poll, past the reaper (found by the fuzzer)", async () => {
    const clock = new ManualClock(Date.now());
    const h = await startTestHub({}, { clock });
    try {
      const first = await fetch(`${h.httpUrl}/connection/poll?channel=lp:bye`);
      const client = JSON.parse((await first.text()).split("\n")[0]!).connect.client;
      const secret = first.headers.get("X-Poll-Secret")!;
      await api("disconnect", { client }, {}, h);
      // The reaper runs every 5 s; before the fix it forgot the closed session and the
      // client's next poll got 404 "connect again" instead of the reason.
      await clock.advance(6000);
      const poll = await fetch(`${h.httpUrl}/connection/poll?client=${client}&secret=${secret}&timeout=0`);
      expect(poll.status).toBe(200);
      const got = (await poll.text()).trim().split("\n").map((l) => JSON.parse(l));
      expect(got.at(-1)).toMatchObject({ push: { disconnect: { code: 3504 } } });
      expect(got.at(-1).push.disconnect.reconnect).not.toBe(true);
      const after = await fetch(`${h.httpUrl}/connection/poll?client=${client}&secret=${secret}&timeout=0`);
      expect(after.status).toBe(404);
    } finally {
      await h.stop();
    }
  });

  it("forgets a closed session whose client never polls again", async () => {
    const clock = new ManualClock(Date.now());
    const h = await startTestHub({}, { clock });
    try {
      const first = await fetch(`${h.httpUrl}/connection/poll?channel=lp:gone`);
      const client = JSON.parse((await first.text()).split("\n")[0]!).connect.client;
      const secret = first.headers.get("X-Poll-Secret")!;
      await api("disconnect", { client }, {}, h);
      await clock.advance((h.config.longPollTimeoutSeconds + h.config.pingIntervalSeconds + 10) * 1000);
      const poll = await fetch(`${h.httpUrl}/connection/poll?client=${client}&secret=${secret}&timeout=0`);
      expect(poll.status).toBe(404);
    } finally {
      await h.stop();
    }
  });
});

describe("HTTP API", () => {
  it("publishes with JSON and with protobuf bodies", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "api:1" } });
    const r = await api("publish", { channel: "api:1", data: { via: "json" }, idempotencyKey: "k" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ offset: "1", epoch: expect.any(String) });
    expect((await api("publish", { channel: "api:1", data: { via: "json" }, idempotencyKey: "k" })).body).toEqual(r.body);
    const bin = PublishRequest.encode({ channel: "api:1", data: Buffer.from('{"via":"protobuf"}'), idempotencyKey: "", skipHistory: false, tags: {} }).finish();
    const res = await fetch(`${hub.httpUrl}/api/publish`, { method: "POST", headers: { "Content-Type": "application/x-protobuf" }, body: bin });
    expect(res.status).toBe(200);
    expect(PublishResponse.decode(new Uint8Array(await res.arrayBuffer())).offset).toBe("2");
    await c.waitFor(() => c.pubs("api:1").length === 2);
    expect(c.pubs("api:1").map((p) => p.data.via)).toEqual(["json", "protobuf"]);
    c.close();
  });

  it("invalid JSON body: 400 BAD_REQUEST", async () => {
    await expectBystanderStillServed(async () => {
      expect(await api("publish", "{nope")).toMatchObject({ status: 400, body: { error: { code: 107, message: expect.stringMatching(/invalid JSON body/) } } });
    });
  });

  it("invalid protobuf bytes: 400 BAD_REQUEST", async () => {
    await expectBystanderStillServed(async () => {
      const garbage = await fetch(`${hub.httpUrl}/api/publish`, {
        method: "POST",
        headers: { "Content-Type": "application/x-protobuf" },
        body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]),
      });
      expect(garbage.status).toBe(400);
      expect((await garbage.json()).error).toMatchObject({ code: 107, message: expect.stringMatching(/invalid protobuf body/) });
    });
  });

  it("invalid channel name: 400 BAD_REQUEST", async () => {
    await expectBystanderStillServed(async () => {
      expect(await api("publish", { channel: "bad name", data: 1 })).toMatchObject({
        status: 400,
        body: { error: { code: 107, message: expect.stringMatching(/invalid channel name/) } },
      });
    });
  });

  it("unknown method: 404", async () => {
    await expectBystanderStillServed(async () => {
      expect(await api("teleport", {})).toMatchObject({ status: 404, body: { error: { message: expect.stringMatching(/no API method "teleport"/) } } });
      // Names every object has (found by the fuzzer: /api/constructor reached Object.prototype).
      for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"])
        expect(await api(name, {}), name).toMatchObject({ status: 404, body: { error: { code: 113 } } });
    });
  });

  it("oversize body: 413", async () => {
    await expectBystanderStillServed(async () => {
      expect((await api("publish", { channel: "x", data: "z".repeat(5 * 1024 * 1024) })).status).toBe(413);
    });
  });

  it("an empty channel's presence stats and /health answer normally", async () => {
    expect(await api("presence_stats", { channel: "nobody" })).toMatchObject({ status: 200, body: {} });
    const health = await fetch(`${hub.httpUrl}/health`);
    expect(await health.json()).toMatchObject({ status: "ok", broker: { kind: "memory", healthy: true } });
  });

  describe("with an API key set", () => {
    let locked: TestHub;
    beforeAll(async () => {
      locked = await startTestHub({ apiKey: "k3y" });
    });
    afterAll(async () => locked && (await locked.stop()));

    it("a missing API key: 401 UNAUTHORIZED", async () => {
      await expectBystanderStillServed(
        async () => {
          expect(await api("publish", { channel: "a", data: 1 }, {}, locked)).toMatchObject({ status: 401, body: { error: { code: 101, message: expect.stringMatching(/apikey/) } } });
        },
        { hub: locked },
      );
    });

    it("a wrong API key: 401 UNAUTHORIZED", async () => {
      await expectBystanderStillServed(
        async () => {
          expect(await api("publish", { channel: "a", data: 1 }, { Authorization: "apikey nope" }, locked)).toMatchObject({
            status: 401,
            body: { error: { code: 101, message: "wrong API key" } },
          });
        },
        { hub: locked },
      );
    });

    it("the right API key: 200", async () => {
      expect((await api("publish", { channel: "a", data: 1 }, { Authorization: "apikey k3y" }, locked)).status).toBe(200);
    });
  });
});

describe("graceful shutdown", () => {
  it("tells connected clients to reconnect", async () => {
    const h = await startTestHub();
    const c = await TestWsClient.connect(h.wsUrl);
    await c.call({ subscribe: { channel: "bye" } });
    await h.stop();
    const d = await c.waitFor((m) => m.push?.disconnect);
    expect(d.push.disconnect).toEqual({ code: 3001, reason: "shutdown", reconnect: true });
    expect(await c.waitClosed()).toBe(3001);
  });

  it("tells SSE and long-poll clients to reconnect", async () => {
    const h = await startTestHub({ namespaces: [defaultNamespace("nojl")] });
    const stream = readSse(`${h.httpUrl}/connection/sse?channel=nojl:bye`, 3);
    const first = await fetch(`${h.httpUrl}/connection/poll?channel=nojl:bye`);
    const client = JSON.parse((await first.text()).split("\n")[0]!).connect.client;
    const next = fetch(`${h.httpUrl}/connection/poll?client=${client}&secret=${first.headers.get("X-Poll-Secret")}`);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await h.stop();
    // Ended streams leave idle keep-alive connections: they must not hold the shutdown window.
    expect(Date.now() - t0).toBeLessThan(h.config.shutdownTimeoutSeconds * 1000 - 1000);
    const disconnect = { code: 3001, reason: "shutdown", reconnect: true };
    const { events, close } = await stream;
    close();
    expect(events[2]!.data.push.disconnect).toEqual(disconnect);
    const polled = (await (await next).text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(polled.at(-1).push.disconnect).toEqual(disconnect);
  });

  it("answers the HTTP API with 503 while shutting down", async () => {
    const h = await startTestHub();
    const socket = net.connect(Number(new URL(h.httpUrl).port), "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    // A request whose headers are still arriving when the shutdown starts.
    socket.write("POST /api/publish HTTP/1.1\r\nHost: hub\r\n");
    await new Promise((r) => setTimeout(r, 50));
    const stopped = h.stop();
    await new Promise((r) => setTimeout(r, 50));
    const body = JSON.stringify({ channel: "late", data: {} });
    let response = "";
    socket.on("data", (chunk) => (response += chunk.toString()));
    const ended = new Promise((r) => socket.once("close", r));
    socket.end(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    await ended;
    await stopped;
    expect(response).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4))).toEqual({
      error: { code: 108, message: expect.stringMatching(/shutting down/), temporary: true },
    });
  });

  it("refuses a new WebSocket upgrade with 503 while shutting down", async () => {
    const h = await startTestHub();
    const socket = net.connect(Number(new URL(h.httpUrl).port), "127.0.0.1");
    await once(socket, "connect");
    // An upgrade request whose headers are still arriving when the shutdown starts.
    socket.write("GET /connection/websocket HTTP/1.1\r\nHost: hub\r\n");
    await new Promise((r) => setTimeout(r, 50));
    const stopped = h.stop();
    await new Promise((r) => setTimeout(r, 50));
    // The listener is closed: a new connection is not even accepted.
    await expect(TestWsClient.open(h.wsUrl)).rejects.toThrow(/ECONNREFUSED/);
    let response = "";
    socket.on("data", (chunk) => (response += chunk.toString()));
    const ended = once(socket, "close");
    socket.write("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    await ended;
    await stopped;
    expect(response).toMatch(/^HTTP\/1\.1 503 /);
  });

  describe.runIf(requireTools("graceful shutdown with redis stores", { "redis-server": !!which("redis-server") }))("with redis stores", () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>>;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => redis && (await redis.stop()));

    it("closes the broker's and the stores' Redis connections", async () => {
      const h = await startTestHub({ broker: "redis", presence: "redis", history: "redis", redisUrl: redis.url });
      const observer = new Redis(redis.url);
      try {
        const c = await TestWsClient.connect(h.wsUrl);
        await c.call({ subscribe: { channel: "bye" } });
        expect((await hubRedisClients(observer)).sort()).toEqual(["realtime-hub:commands", "realtime-hub:pubsub"]);
        await h.stop();
        expect((await c.waitFor((m) => m.push?.disconnect)).push.disconnect).toMatchObject({ code: 3001, reconnect: true });
        const end = Date.now() + 3000;
        while ((await hubRedisClients(observer)).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        expect(await hubRedisClients(observer)).toEqual([]);
      } finally {
        observer.disconnect();
        await h.stop();
      }
    });
  });
});
