import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setImmediate as tick } from "node:timers/promises";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { PublishStreamRequest, PublishStreamResponse, type SubscribeResponse } from "../../src/gen/realtime/v1/hub.js";
import http2 from "node:http2";
import { defaultNamespace } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { grpcClient, pubReq } from "../helpers/grpc-client.js";
import { TestWsClient } from "../helpers/ws-client.js";

let hub: TestHub;
let g: ReturnType<typeof grpcClient>;
beforeAll(async () => {
  hub = await startTestHub({ namespaces: [{ ...defaultNamespace("quiet") }] });
  g = grpcClient(hub.grpcAddr);
});
afterAll(async () => {
  g?.close();
  await hub?.stop();
});

const errOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error("expected the call to fail");
};

describe("HubService over gRPC", () => {
  it("Publish returns the stream position and a WebSocket client receives the publication", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "g:pub" } });
    const r: any = await g.call("publish", pubReq("g:pub", { text: "hi" }, { tags: { k: "v" } }));
    expect(r).toEqual({ offset: "1", epoch: expect.any(String) });
    const pub = (await c.waitFor((m) => m.push?.pub)).push.pub;
    expect(pub).toMatchObject({ data: { text: "hi" }, offset: "1", epoch: r.epoch, tags: { k: "v" } });
    expect(pub.info).toBeUndefined();
    c.close();
  });

  it("a repeated idempotency key returns the first result and is delivered once", async () => {
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "g:idem" } });
    const first: any = await g.call("publish", pubReq("g:idem", 1, { idempotencyKey: "order-1" }));
    const again: any = await g.call("publish", pubReq("g:idem", 1, { idempotencyKey: "order-1" }));
    expect(again).toEqual(first);
    await g.call("publish", pubReq("g:idem", 2));
    await c.waitFor(() => c.pubs("g:idem").length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.pubs("g:idem").map((p) => p.data)).toEqual([1, 2]);
    c.close();
  });

  it("an idempotency key over 256 bytes is INVALID_ARGUMENT on Publish and Broadcast; 256 bytes with a long channel is fine", async () => {
    const long = "k".repeat(257);
    const err = await errOf(g.call("publish", pubReq("g:idem-long", 1, { idempotencyKey: long })));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/at most 256 bytes/);
    const b = { channels: ["g:idem-long"], data: Buffer.from("1"), skipHistory: false, tags: {} };
    expect((await errOf(g.call("broadcast", { ...b, idempotencyKey: long }))).code).toBe(status.INVALID_ARGUMENT);
    // Broadcast extends the key per channel internally: the caller's limit is what counts.
    const r: any = await g.call("broadcast", { ...b, channels: [`g:${"c".repeat(200)}`], idempotencyKey: "k".repeat(256) });
    expect(r.results[0].error).toBeUndefined();
  });

  it("skip_history delivers without keeping", async () => {
    const r: any = await g.call("publish", pubReq("g:skip", 1, { skipHistory: true }));
    expect(r.offset).toBe("0");
    const h: any = await g.call("history", { channel: "g:skip", limit: 10, since: undefined, reverse: false });
    expect(h.publications).toEqual([]);
  });

  it("Broadcast publishes into many channels; a bad channel fails alone", async () => {
    const r: any = await g.call("broadcast", { channels: ["g:b1", "bad name", "g:b2"], data: Buffer.from("1"), idempotencyKey: "", skipHistory: false, tags: {} });
    expect(r.results.map((x: any) => [x.channel, x.error?.code ?? 0])).toEqual([["g:b1", 0], ["bad name", 107], ["g:b2", 0]]);
    expect(r.results[0].offset).toBe("1");
  });

  it("PublishStream acks every message in order", async () => {
    const stream = g.client.publishStream(g.md());
    const acks: PublishStreamResponse[] = [];
    stream.on("data", (a: PublishStreamResponse) => acks.push(a));
    const done = new Promise((r) => stream.on("end", r));
    const n = 500;
    for (let i = 1; i <= n; i++) stream.write({ id: String(i), publish: pubReq(i % 50 === 0 ? "bad name" : "g:stream", i) });
    stream.end();
    await done;
    expect(acks.map((a) => a.id)).toEqual(Array.from({ length: n }, (_, i) => String(i + 1)));
    const ok = acks.filter((a) => !a.error);
    expect(ok.map((a) => Number(a.offset))).toEqual(Array.from({ length: ok.length }, (_, i) => i + 1));
    expect(acks.filter((a) => a.error).every((a) => a.error!.code === 107)).toBe(true);
  });

  it("Subscribe streams browser publications (with info), joins and leaves", async () => {
    const stream = g.client.subscribe({ channels: ["g:sub"], clientPublicationsOnly: true, joinLeave: true }, g.md());
    const events: SubscribeResponse[] = [];
    stream.on("data", (e: SubscribeResponse) => events.push(e));
    stream.on("error", () => undefined);
    await new Promise((r) => stream.once("metadata", r));
    const c = await TestWsClient.connect(hub.wsUrl);
    await c.call({ subscribe: { channel: "g:sub" } });
    await c.call({ publish: { channel: "g:sub", data: { text: "from the browser" } } });
    await g.call("publish", pubReq("g:sub", { text: "from a backend" }));
    await c.call({ unsubscribe: { channel: "g:sub" } });
    const client = c.messages[0].connect.client;
    const end = Date.now() + 5000;
    while (!events.some((e) => e.leave) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    stream.cancel();
    expect(events.map((e) => (e.join ? "join" : e.leave ? "leave" : "pub"))).toEqual(["join", "pub", "leave"]);
    const pub = events.find((e) => e.publication)!.publication!;
    expect(JSON.parse(pub.data.toString())).toEqual({ text: "from the browser" });
    expect(pub.info?.client).toBe(client);
    expect(events[0]!.join!.info!.client).toBe(client);
    c.close();
  });

  it("Presence, PresenceStats, History, HistoryRemove, Channels, Info", async () => {
    const a = await TestWsClient.connect(hub.wsUrl);
    const b = await TestWsClient.connect(hub.wsUrl);
    for (const c of [a, b]) await c.call({ subscribe: { channel: "g:room" } });
    const p: any = await g.call("presence", { channel: "g:room" });
    expect(Object.keys(p.presence).sort()).toEqual([a.messages[0].connect.client, b.messages[0].connect.client].sort());
    expect(await g.call("presenceStats", { channel: "g:room" })).toEqual({ numClients: 2, numUsers: 1 });
    for (const n of [1, 2, 3]) await g.call("publish", pubReq("g:room", n));
    const h: any = await g.call("history", { channel: "g:room", limit: 2, since: undefined, reverse: true });
    expect(h.publications.map((x: any) => JSON.parse(x.data.toString()))).toEqual([3, 2]);
    expect(h.offset).toBe("3");
    const since: any = await g.call("history", { channel: "g:room", limit: 10, since: { offset: "1", epoch: h.epoch }, reverse: false });
    expect(since.publications.map((x: any) => x.offset)).toEqual(["2", "3"]);
    await g.call("historyRemove", { channel: "g:room" });
    expect(((await g.call("history", { channel: "g:room", limit: 10, since: undefined, reverse: false })) as any).publications).toEqual([]);
    const ch: any = await g.call("channels", { pattern: "g:ro*" });
    expect(ch.channels).toEqual({ "g:room": { numClients: 2 } });
    const info: any = await g.call("info", {});
    expect(info.nodes[0]).toMatchObject({ id: hub.node.id, broker: "memory", brokerHealthy: true, numClients: expect.any(Number) });
    a.close();
    b.close();
  });

  it("features off for a namespace answer FAILED_PRECONDITION", async () => {
    expect((await errOf(g.call("presence", { channel: "quiet:1" }))).code).toBe(status.FAILED_PRECONDITION);
    expect((await errOf(g.call("history", { channel: "quiet:1", limit: 1, since: undefined, reverse: false }))).code).toBe(status.FAILED_PRECONDITION);
  });

  it("Disconnect and Unsubscribe reach the user's connections", async () => {
    const secret = "s";
    const h = await startTestHub({ tokenHmacSecret: secret });
    const gc = grpcClient(h.grpcAddr);
    try {
      const { signToken } = await import("../../src/auth/jwt.js");
      const c1 = await TestWsClient.connect(h.wsUrl, await signToken(secret, { sub: "42" }));
      const c2 = await TestWsClient.connect(h.wsUrl, await signToken(secret, { sub: "42" }));
      const other = await TestWsClient.connect(h.wsUrl, await signToken(secret, { sub: "7" }));
      for (const c of [c1, c2, other]) await c.call({ subscribe: { channel: "news" } });
      await gc.call("unsubscribe", { user: "42", channel: "news", client: "" });
      for (const c of [c1, c2]) expect((await c.waitFor((m) => m.push?.unsubscribe)).push).toMatchObject({ channel: "news", unsubscribe: { code: 2000 } });
      await gc.call("disconnect", { user: "42", client: c1.messages[0].connect.client, code: 0, reason: "bye" });
      const d1 = (await c1.waitFor((m) => m.push?.disconnect)).push.disconnect;
      expect(d1).toMatchObject({ code: 3504, reason: "bye" });
      expect(d1.reconnect).toBeFalsy(); // proto3 JSON omits false
      expect(await c1.waitClosed()).toBe(3504);
      expect(c2.closeCode).toBeNull();
      await gc.call("disconnect", { user: "42", client: "", code: 3013, reason: "reconnect please" });
      expect((await c2.waitFor((m) => m.push?.disconnect)).push.disconnect).toMatchObject({ code: 3013, reconnect: true });
      expect((await other.call({ ping: {} })).ping).toEqual({});
      other.close();
    } finally {
      gc.close();
      await h.stop();
    }
  });
});

describe("gRPC bad input", () => {
  it("invalid and unknown channels: INVALID_ARGUMENT / NOT_FOUND with a message", async () => {
    const h = await startTestHub({ allowUnknownNamespaces: false });
    const gc = grpcClient(h.grpcAddr);
    try {
      const bad = await errOf(gc.call("publish", pubReq("no spaces", 1)));
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.details).toMatch(/invalid channel name/);
      expect(bad.metadata.get("realtime-error-code")).toEqual(["107"]);
      expect((await errOf(gc.call("publish", pubReq("nope:1", 1)))).code).toBe(status.NOT_FOUND);
      expect((await errOf(gc.call("broadcast", { channels: [], data: Buffer.from("1"), idempotencyKey: "", skipHistory: false, tags: {} }))).code).toBe(status.INVALID_ARGUMENT);
    } finally {
      gc.close();
      await h.stop();
    }
  });

  it("Subscribe with an invalid, over-long or unknown-namespace channel fails and subscribes nothing", async () => {
    const h = await startTestHub({ allowUnknownNamespaces: false });
    const gc = grpcClient(h.grpcAddr);
    try {
      const cases: Array<[string, number, RegExp]> = [
        ["bad name", status.INVALID_ARGUMENT, /invalid channel name/],
        ["x".repeat(5000), status.INVALID_ARGUMENT, /longer than 255/],
        ["nope:1", status.NOT_FOUND, /unknown namespace "nope"/],
      ];
      for (const [bad, code, message] of cases) {
        // The valid channel listed first must not stay subscribed when the call fails.
        const stream = gc.client.subscribe({ channels: ["valid-first", bad], clientPublicationsOnly: false, joinLeave: false }, gc.md());
        stream.on("data", () => undefined);
        const err = await new Promise<ServiceError>((r) => stream.on("error", r));
        expect({ code: err.code, details: err.details }).toMatchObject({ code, details: expect.stringMatching(message) });
        expect(h.node.channels("valid-first")).toEqual({});
      }
    } finally {
      gc.close();
      await h.stop();
    }
  });

  it("garbage protobuf bytes get an error status and the hub keeps serving", async () => {
    const raw = new Client(hub.grpcAddr, credentials.createInsecure());
    const err = await new Promise<ServiceError>((resolve) =>
      raw.makeUnaryRequest(
        "/realtime.v1.HubService/Publish",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        new Metadata(),
        (e) => resolve(e as ServiceError),
      ),
    );
    raw.close();
    expect(err.code).not.toBe(status.OK);
    expect([status.INTERNAL, status.INVALID_ARGUMENT]).toContain(err.code);
    expect(await g.call("publish", pubReq("g:alive", 1))).toMatchObject({ offset: expect.any(String) });
  });

  it("API key: missing or wrong -> UNAUTHENTICATED; right -> OK; health stays open", async () => {
    const h = await startTestHub({ apiKey: "secret" });
    const none = grpcClient(h.grpcAddr);
    const wrong = grpcClient(h.grpcAddr, "nope");
    const right = grpcClient(h.grpcAddr, "secret");
    try {
      const e1 = await errOf(none.call("publish", pubReq("a", 1)));
      expect(e1.code).toBe(status.UNAUTHENTICATED);
      expect(e1.details).toMatch(/apikey/);
      expect((await errOf(wrong.call("publish", pubReq("a", 1)))).details).toMatch(/wrong API key/);
      const s = none.client.subscribe({ channels: ["a"], clientPublicationsOnly: false, joinLeave: false }, none.md());
      expect(await new Promise<ServiceError>((r) => s.on("error", r))).toMatchObject({ code: status.UNAUTHENTICATED });
      const ps = none.client.publishStream(none.md());
      ps.on("data", () => undefined);
      expect(await new Promise<ServiceError>((r) => ps.on("error", r))).toMatchObject({ code: status.UNAUTHENTICATED });
      const spaced = new Metadata();
      spaced.set("authorization", "ApiKey  secret");
      expect(await new Promise((r, j) => right.client.info({}, spaced, (e, res) => (e ? j(e) : r(res))))).toMatchObject({ nodes: expect.any(Array) });
      expect(e1.metadata.get("realtime-error-code")).toEqual(["101"]);
      expect(await right.call("publish", pubReq("a", 1))).toMatchObject({ epoch: expect.any(String) });
      expect(await healthCheck(h.grpcAddr)).toBe(1); // SERVING, without a key
    } finally {
      for (const c of [none, wrong, right]) c.close();
      await h.stop();
    }
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `value()` has not changed for `quietMs` (at most `maxMs`). */
async function settle(value: () => number, quietMs = 300, maxMs = 10_000): Promise<number> {
  const end = Date.now() + maxMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < end && Date.now() - since < quietMs) {
    await sleep(25);
    if (value() !== last) {
      last = value();
      since = Date.now();
    }
  }
  return last;
}

describe("gRPC streams: order, backpressure, limits, shutdown", () => {
  it("PublishStream acks stay in request order when publishes complete out of order", async () => {
    const api = hub.api;
    const original = api.publishStreamMessage;
    // Publish in arrival order, but let the results resolve in a scrambled order.
    api.publishStreamMessage = async (req: PublishStreamRequest) => {
      const r = await original.call(api, req);
      await sleep([7, 0, 3, 11, 1][Number(req.id) % 5]!);
      return r;
    };
    try {
      const stream = g.client.publishStream(g.md());
      const acks: PublishStreamResponse[] = [];
      stream.on("data", (a: PublishStreamResponse) => acks.push(a));
      const done = new Promise((r) => stream.on("end", r));
      for (let i = 1; i <= 200; i++) stream.write({ id: String(i), publish: pubReq("g:scramble", i) });
      stream.end();
      await done;
      expect(acks.map((a) => Number(a.id))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(acks.map((a) => Number(a.offset))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    } finally {
      api.publishStreamMessage = original;
    }
  });

  it("PublishStream: an undecodable message after valid ones gets their acks, then INVALID_ARGUMENT, every time", async () => {
    // Found by the fuzzer: grpc-js ended the call at once on the bad message while an earlier
    // ack was still being written; about every other stream then hung with no status.
    const frame = (m: Uint8Array) => {
      const h = Buffer.alloc(5);
      h.writeUInt32BE(m.length, 1);
      return Buffer.concat([h, Buffer.from(m)]);
    };
    const pub = (id: number) => PublishStreamRequest.encode({ id: String(id), publish: pubReq("g:undecodable", id) }).finish();
    for (let k = 0; k < 10; k++) {
      const session = http2.connect(`http://${hub.grpcAddr}`);
      try {
        const st = session.request({ ":method": "POST", ":path": "/realtime.v1.HubService/PublishStream", "content-type": "application/grpc", te: "trailers" });
        let trailers: http2.IncomingHttpHeaders | undefined;
        const body: Buffer[] = [];
        st.on("trailers", (t) => (trailers = t));
        st.on("data", (d: Buffer) => body.push(d));
        const closed = new Promise<boolean>((r) => {
          st.on("close", () => r(true));
          setTimeout(() => r(false), 5000).unref();
        });
        for (const m of [pub(1), pub(2), Buffer.from([0x1a, 0xfe, 0x0b])]) {
          st.write(frame(m));
          await new Promise((r) => setImmediate(r));
        }
        st.end();
        expect(await closed, `stream ${k} ended`).toBe(true);
        expect(trailers?.["grpc-status"], `stream ${k}`).toBe(String(status.INVALID_ARGUMENT));
        const acks: string[] = [];
        for (let all = Buffer.concat(body); all.length >= 5; all = all.subarray(5 + all.readUInt32BE(1)))
          acks.push(PublishStreamResponse.decode(all.subarray(5, 5 + all.readUInt32BE(1))).id);
        expect(acks).toEqual(["1", "2"]);
      } finally {
        session.destroy();
      }
    }
  });

  it("PublishStream stops reading while the client takes no acks, then acks everything in order", async () => {
    const api = hub.api;
    const original = api.publishStreamMessage;
    let started = 0;
    api.publishStreamMessage = (req: PublishStreamRequest) => {
      started++;
      return original.call(api, req);
    };
    try {
      const n = 20_000;
      const stream = g.client.publishStream(g.md());
      // Read a little, then stop: explicitly paused, the 'data' listener does not resume it.
      // (A grpc-js client that never reads at all does not pause its HTTP/2 stream and
      // buffers without bound in the client, which would not test the server.)
      stream.pause();
      stream.read(0);
      const ids: number[] = [];
      stream.on("data", (a: PublishStreamResponse) => ids.push(Number(a.id)));
      const done = new Promise((r) => stream.on("end", r));
      for (let i = 1; i <= n; i++) stream.write({ id: String(i), publish: pubReq("g:bp", i, { skipHistory: true }) });
      stream.end();
      // On a loaded machine the first message can take a while to arrive: wait for it,
      // then for the count to stop moving.
      for (const end = Date.now() + 10_000; started === 0 && Date.now() < end; ) await sleep(25);
      const whilePaused = await settle(() => started);
      expect(whilePaused).toBeGreaterThan(0);
      expect(whilePaused).toBeLessThan(n); // the server stopped reading: backpressure reached the client
      stream.resume();
      await done;
      expect(started).toBe(n);
      expect(ids).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    } finally {
      api.publishStreamMessage = original;
    }
  });

  it("Subscribe keeps up with a PublishStream publisher: every event, in order", async () => {
    const publisher = grpcClient(hub.grpcAddr);
    const stream = g.client.subscribe({ channels: ["g:fast"], clientPublicationsOnly: false, joinLeave: false }, g.md());
    const got: number[] = [];
    stream.on("data", (e: SubscribeResponse) => got.push(JSON.parse(e.publication!.data.toString())));
    let failure: ServiceError | undefined;
    stream.on("error", (e: ServiceError) => (failure = e));
    try {
      await new Promise((r) => stream.once("metadata", r));
      const n = 20_000;
      const ps = publisher.client.publishStream(publisher.md());
      ps.on("data", () => undefined);
      const done = new Promise((r) => ps.on("end", r));
      for (let i = 0; i < n; i++) ps.write({ id: String(i + 1), publish: pubReq("g:fast", i, { skipHistory: true }) });
      ps.end();
      await done;
      await settle(() => got.length);
      expect(failure).toBeUndefined();
      expect(got.length).toBe(n);
      expect(got.every((v, i) => v === i)).toBe(true);
    } finally {
      stream.cancel();
      publisher.close();
    }
  });

  it("Subscribe ends a consumer that falls too far behind with RESOURCE_EXHAUSTED and leaves the channel", async () => {
    const stream = g.client.subscribe({ channels: ["g:slow"], clientPublicationsOnly: false, joinLeave: false }, g.md());
    stream.pause();
    stream.read(0); // see above: a client that reads a little and then stops
    let received = 0;
    stream.on("data", () => received++);
    const failed = new Promise<ServiceError>((r) => stream.on("error", r));
    await new Promise((r) => stream.once("metadata", r));
    expect(hub.node.channels("g:slow")).toEqual({ "g:slow": { numClients: 1 } });
    const n = hub.config.subscribeBacklogMaxEvents * 3;
    for (let i = 0; i < n; i++) {
      await hub.api.publish(pubReq("g:slow", i, { skipHistory: true }));
      if (i % 500 === 0) await tick();
    }
    // The subscription is gone at once, whether or not the consumer ever reads again.
    expect(hub.node.channels("g:slow")).toEqual({});
    stream.resume();
    const err = await failed;
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(
      `subscriber too slow: more than ${hub.config.subscribeBacklogMaxEvents} events waiting (subscribeBacklogMaxEvents)`,
    );
    expect(err.metadata.get("realtime-error-code")).toEqual(["106"]);
    expect(received).toBeLessThan(n);
  });

  it("Subscribe without channels is INVALID_ARGUMENT", async () => {
    const stream = g.client.subscribe({ channels: [], clientPublicationsOnly: false, joinLeave: false }, g.md());
    stream.on("data", () => undefined);
    expect(await new Promise<ServiceError>((r) => stream.on("error", r))).toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("Subscribe asking for joins and leaves where the namespace sends none is FAILED_PRECONDITION", async () => {
    const stream = g.client.subscribe({ channels: ["g:jl", "quiet:x"], clientPublicationsOnly: false, joinLeave: true }, g.md());
    stream.on("data", () => undefined);
    const err = await new Promise<ServiceError>((r) => stream.on("error", r));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/join\/leave events are off for "quiet:x"/);
    expect(hub.node.channels("g:jl")).toEqual({});
  });

  it("an unexpected failure is INTERNAL without its internals", async () => {
    const api = hub.api;
    const original = api.info;
    api.info = async () => {
      throw new Error("connect ECONNREFUSED db.internal:5432 password=hunter2");
    };
    try {
      const err = await errOf(g.call("info", {}));
      expect(err.code).toBe(status.INTERNAL);
      expect(err.details).toBe("internal error");
      expect(err.metadata.get("realtime-error-code")).toEqual(["100"]);
    } finally {
      api.info = original;
    }
    expect(await g.call("info", {})).toMatchObject({ nodes: expect.any(Array) });
  });

  it("shutdown: health watchers see NOT_SERVING, Subscribe streams end with UNAVAILABLE", async () => {
    const h = await startTestHub({ shutdownTimeoutSeconds: 10 });
    const gc = grpcClient(h.grpcAddr);
    const raw = new Client(h.grpcAddr, credentials.createInsecure());
    try {
      const statuses: number[] = [];
      const watch = raw.makeServerStreamRequest("/grpc.health.v1.Health/Watch", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0));
      watch.on("error", () => undefined);
      watch.on("data", (b: Buffer) => {
        statuses.push(b[1]!);
        if (b[1] === 2) watch.cancel(); // a watcher hangs up once told NOT_SERVING
      });
      const sub = gc.client.subscribe({ channels: ["g:bye"], clientPublicationsOnly: false, joinLeave: false }, gc.md());
      sub.on("data", () => undefined);
      const ended = new Promise<ServiceError>((r) => sub.on("error", r));
      await new Promise((r) => sub.once("metadata", r));
      await settle(() => statuses.length, 100, 2000);
      expect(statuses).toEqual([1]); // SERVING
      const t0 = Date.now();
      await h.stop();
      expect(Date.now() - t0).toBeLessThan(5000); // nothing waited for the 10 s shutdown window
      expect(statuses).toEqual([1, 2]); // then NOT_SERVING
      expect(await ended).toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      raw.close();
      gc.close();
      await h.stop();
    }
  });
});

/** grpc.health.v1.Health/Check through a raw client; returns the status enum (1 = SERVING). */
async function healthCheck(addr: string): Promise<number> {
  const raw = new Client(addr, credentials.createInsecure());
  const res = await new Promise<Buffer>((resolve, reject) =>
    raw.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e, r) => (e ? reject(e) : resolve(r!))),
  );
  raw.close();
  // HealthCheckResponse { ServingStatus status = 1; } -> bytes 0x08 <status>
  expect(res[0]).toBe(0x08);
  return res[1]!;
}
