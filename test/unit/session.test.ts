import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryHistoryStore } from "../../src/history/memory.js";
import type { HubNode } from "../../src/node.js";
import { signToken } from "../../src/auth/jwt.js";
import { defaultNamespace } from "../../src/config.js";
import { createTestNode, createTestSession } from "../helpers/node.js";
import { eventually } from "../helpers/until.js";
import { Frame } from "../../src/protocol/frame.js";
import { ChannelEvent } from "../../src/channel-event.js";

let node: HubNode;

/** Makes Frame.json() throw for the replies `which` picks, as a payload too deep to encode did. */
function failEncoding(which: (r: Frame["reply"]) => boolean) {
  const json = Frame.prototype.json;
  return vi.spyOn(Frame.prototype, "json").mockImplementation(function (this: Frame) {
    if (which(this.reply)) throw new RangeError("Maximum call stack size exceeded");
    return json.call(this);
  });
}
afterEach(async () => node && (await node.shutdown()));

async function connected(n: HubNode) {
  const c = createTestSession(n);
  c.send({ id: 1, connect: {} });
  await eventually(() => expect(c.transport.reply(1).connect.client).toBe(c.session.id));
  return c;
}

describe("session", () => {
  it("connects, subscribes and receives a publication pushed once", async () => {
    node = await createTestNode();
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "chat:1" } });
    await eventually(() => expect(a.transport.reply(2).subscribe.recoverable).toBe(true));
    await node.publish("chat:1", Buffer.from('{"text":"hi"}'));
    await eventually(() => expect(a.transport.pushes("pub")).toHaveLength(1));
    expect(a.transport.pushes("pub")[0]).toMatchObject({ channel: "chat:1", pub: { data: { text: "hi" }, offset: "1" } });
  });

  it("several commands in one frame are answered in order", async () => {
    node = await createTestNode();
    const c = createTestSession(node);
    c.session.handleFrame('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"a"}}\n{"id":3,"ping":{}}');
    await eventually(() => expect(c.transport.frames.filter((f) => f.id).map((f) => f.id)).toEqual([1, 2, 3]));
  });

  it("answers a command before connect with UNAUTHORIZED", async () => {
    node = await createTestNode();
    const c = createTestSession(node);
    c.send({ id: 5, subscribe: { channel: "a" } });
    await eventually(() => expect(c.transport.reply(5).error.code).toBe(101));
    expect(c.transport.closedWith).toBeNull();
  });

  it("answers an unknown command with METHOD_NOT_FOUND and stays open", async () => {
    node = await createTestNode();
    const c = await connected(node);
    c.send({ id: 2, explode: {} });
    c.send({ id: 3, ping: {} });
    await eventually(() => expect(c.transport.reply(3).ping).toEqual({}));
    expect(c.transport.reply(2).error.code).toBe(104);
    expect(c.transport.closedWith).toBeNull();
  });

  it("malformed JSON gets an error, then the connection is closed with 3501", async () => {
    node = await createTestNode();
    const c = await connected(node);
    c.session.handleFrame("{not json");
    expect(c.transport.frames.at(-1).error).toMatchObject({ code: 107, message: "malformed JSON" });
    expect(c.transport.closedWith?.code).toBe(3501);
  });

  it("a line of a frame that fails to decode gets an error reply; the other lines are answered", async () => {
    node = await createTestNode();
    const c = await connected(node);
    c.session.handleFrame('{"id":2,"ping":{}}\n{"id":3,"ping":{},"b64data":5}\n{"id":4,"history":{"channel":"h","limit":"x"}}\n{"id":5,"ping":{}}');
    await eventually(() => expect(c.transport.reply(5).ping).toEqual({}));
    expect(c.transport.frames.filter((f) => f.id).map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
    expect(c.transport.reply(3).error).toMatchObject({ code: 107, message: expect.stringMatching(/b64data/) });
    expect(c.transport.reply(4).error).toMatchObject({ code: 107, message: expect.stringMatching(/history\.limit/) });
    expect(c.transport.closedWith).toBeNull();
  });

  it("a command without an id gets an error, then the connection is closed with 3501", async () => {
    node = await createTestNode();
    const c = await connected(node);
    c.send({ ping: {} });
    expect(c.transport.frames.at(-1).error).toMatchObject({ code: 107, message: expect.stringMatching(/id/) });
    expect(c.transport.closedWith?.code).toBe(3501);
  });

  it("refuses invalid channel names, unknown namespaces and double subscriptions", async () => {
    node = await createTestNode({ allowUnknownNamespaces: false });
    const c = await connected(node);
    c.send({ id: 2, subscribe: { channel: "bad name" } });
    c.send({ id: 3, subscribe: { channel: "nope:1" } });
    c.send({ id: 4, subscribe: { channel: "ok" } });
    c.send({ id: 5, subscribe: { channel: "ok" } });
    await eventually(() => expect(c.transport.reply(5).error.code).toBe(105));
    expect(c.transport.reply(2).error.code).toBe(107);
    expect(c.transport.reply(3).error.code).toBe(102);
    expect(c.transport.reply(4).subscribe).toBeDefined();
  });

  it("refuses client publish where the namespace forbids it", async () => {
    node = await createTestNode({ namespaces: [{ ...defaultNamespace("ro") }] });
    const c = await connected(node);
    c.send({ id: 2, publish: { channel: "ro:1", data: { x: 1 } } });
    c.send({ id: 3, publish: { channel: "open", data: { x: 1 } } });
    await eventually(() => expect(c.transport.reply(3).publish).toBeDefined());
    expect(c.transport.reply(2).error.code).toBe(103);
  });

  it("client publications carry the publisher's info", async () => {
    node = await createTestNode();
    const a = await connected(node);
    const b = await connected(node);
    b.send({ id: 2, subscribe: { channel: "room" } });
    await eventually(() => b.transport.reply(2));
    a.send({ id: 2, publish: { channel: "room", data: { text: "yo" } } });
    await eventually(() => expect(b.transport.pushes("pub")).toHaveLength(1));
    expect(b.transport.pushes("pub")[0].pub.info.client).toBe(a.session.id);
  });

  it("recovers missed publications, or says recovered=false when they are gone", async () => {
    node = await createTestNode({ channelDefaults: { ...defaultNamespace(), historySize: 3, historyTtlSeconds: 60 } });
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "h" } });
    await eventually(() => a.transport.reply(2));
    await node.publish("h", Buffer.from("1"));
    const { epoch } = a.transport.reply(2).subscribe;
    await node.publish("h", Buffer.from("2"));
    await node.publish("h", Buffer.from("3"));
    const b = await connected(node);
    b.send({ id: 2, subscribe: { channel: "h", recover: true, epoch, offset: "1" } });
    await eventually(() => b.transport.reply(2));
    expect(b.transport.reply(2).subscribe).toMatchObject({ recovered: true, offset: "3", wasRecovering: true });
    expect(b.transport.reply(2).subscribe.publications.map((p: any) => p.data)).toEqual([2, 3]);
    // Too far back: offsets 2..4 are kept, 1 is gone.
    await node.publish("h", Buffer.from("4"));
    const c = await connected(node);
    c.send({ id: 2, subscribe: { channel: "h", recover: true, epoch, offset: "0" } });
    await eventually(() => c.transport.reply(2));
    expect(c.transport.reply(2).subscribe.recovered).toBeFalsy();
    // Another epoch: nothing to recover from.
    const d = await connected(node);
    d.send({ id: 2, subscribe: { channel: "h", recover: true, epoch: "other", offset: "3" } });
    await eventually(() => d.transport.reply(2));
    expect(d.transport.reply(2).subscribe.recovered).toBeFalsy();
  });

  it("a publication racing a subscribe is delivered once, after the reply", async () => {
    node = await createTestNode();
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "race" } });
    const pubs = Promise.all([1, 2, 3].map((i) => node.publish("race", Buffer.from(String(i)))));
    await pubs;
    await eventually(() => a.transport.reply(2));
    await new Promise((r) => setTimeout(r, 20));
    const idx = a.transport.frames.findIndex((f) => f.id === 2);
    const offsets = a.transport.pushes("pub").map((p) => p.pub.offset);
    expect(new Set(offsets).size).toBe(offsets.length);
    const firstPush = a.transport.frames.findIndex((f) => f.push?.pub);
    if (firstPush >= 0) expect(firstPush).toBeGreaterThan(idx);
  });

  it("presence lists subscribers and join/leave pushes are sent", async () => {
    node = await createTestNode();
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "p" } });
    await eventually(() => a.transport.reply(2));
    const b = await connected(node);
    b.send({ id: 2, subscribe: { channel: "p" } });
    await eventually(() => b.transport.reply(2));
    await eventually(() => expect(a.transport.pushes("join").map((p) => p.join.info.client)).toContain(b.session.id));
    a.send({ id: 3, presence: { channel: "p" } });
    await eventually(() => a.transport.reply(3));
    expect(Object.keys(a.transport.reply(3).presence.presence).sort()).toEqual([a.session.id, b.session.id].sort());
    b.send({ id: 3, unsubscribe: { channel: "p" } });
    await eventually(() => expect(a.transport.pushes("leave").map((p) => p.leave.info.client)).toContain(b.session.id));
  });

  it("disconnects a client that does not keep up, without affecting others", async () => {
    node = await createTestNode({ clientQueueMaxBytes: 1000 });
    const slow = await connected(node);
    const fast = await connected(node);
    for (const c of [slow, fast]) c.send({ id: 2, subscribe: { channel: "s" } });
    await eventually(() => slow.transport.reply(2) && fast.transport.reply(2));
    slow.transport.stuckBytes = 5000;
    await node.publish("s", Buffer.from('"x"'));
    expect(slow.transport.closedWith?.code).toBe(3008);
    expect(fast.transport.pushes("pub")).toHaveLength(1);
    await node.publish("s", Buffer.from('"y"'));
    expect(fast.transport.pushes("pub")).toHaveLength(2);
  });

  it("needs a valid token outside dev, and private channels need a subscription token", async () => {
    const secret = "s3cret";
    node = await createTestNode({
      allowAnonymous: false,
      tokenHmacSecret: secret,
      namespaces: [{ ...defaultNamespace("private"), private: true }],
    });
    const anon = createTestSession(node);
    anon.send({ id: 1, connect: {} });
    await eventually(() => expect(anon.transport.reply(1).error.code).toBe(101));
    expect(anon.transport.closedWith?.code).toBe(3503);

    const forged = createTestSession(node);
    forged.send({ id: 1, connect: { token: await signToken("wrong", { sub: "7" }) } });
    await eventually(() => expect(forged.transport.reply(1).error.code).toBe(101));

    const expired = createTestSession(node);
    expired.send({ id: 1, connect: { token: await signToken(secret, { sub: "7" }, -10) } });
    await eventually(() => expect(expired.transport.reply(1).error.code).toBe(109));

    const c = createTestSession(node);
    c.send({ id: 1, connect: { token: await signToken(secret, { sub: "7" }) } });
    await eventually(() => expect(c.transport.reply(1).connect.ttl).toBeGreaterThan(3000));
    c.send({ id: 2, subscribe: { channel: "private:user.7" } });
    c.send({ id: 3, subscribe: { channel: "private:user.7", token: await signToken(secret, { sub: "8", channel: "private:user.7" }) } });
    c.send({ id: 4, subscribe: { channel: "private:user.7", token: await signToken(secret, { sub: "7", channel: "private:user.7" }) } });
    await eventually(() => c.transport.reply(4));
    expect(c.transport.reply(2).error.code).toBe(103);
    expect(c.transport.reply(3).error.code).toBe(103);
    expect(c.transport.reply(4).subscribe).toBeDefined();
  });

  it("never sends a client a publication at or below the position it has", async () => {
    node = await createTestNode();
    const a = await connected(node);
    await node.publish("dup:1", Buffer.from("1"));
    await node.publish("dup:1", Buffer.from("2"));
    a.send({ id: 2, subscribe: { channel: "dup:1", recover: true, epoch: "", offset: "0" } });
    await eventually(() => expect(a.transport.reply(2).subscribe.offset).toBe("2"));
    const { publications: [p1, p2] } = await node.history("dup:1", { limit: 10 });
    // Delivered late by the node (a gap fill racing this subscribe): the client has them.
    a.session.deliver(ChannelEvent.publication("dup:1", p1!));
    a.session.deliver(ChannelEvent.publication("dup:1", p2!));
    await node.publish("dup:1", Buffer.from("3"));
    await eventually(() => expect(a.transport.pushes("pub")).toHaveLength(1));
    a.session.deliver(ChannelEvent.publication("dup:1", { ...p2!, offset: "3" }));
    await new Promise((r) => setTimeout(r, 20));
    expect(a.transport.pushes("pub").map((p: any) => p.pub.offset)).toEqual(["3"]);
  });

  it("reports a token's lifetime rounded down, so a refresh planned from it comes in time", async () => {
    const secret = "s3cret";
    node = await createTestNode({ allowAnonymous: false, tokenHmacSecret: secret });
    // 0.9 s into a second: a token minted now for 3 s expires 2.1 s from now (exp is whole seconds).
    vi.useFakeTimers({ toFake: ["Date"], now: 1_800_000_000_900 });
    try {
      const c = createTestSession(node);
      c.send({ id: 1, connect: { token: await signToken(secret, { sub: "7" }, 3) } });
      await eventually(() => expect(c.transport.reply(1).connect.ttl).toBe(2));
      c.send({ id: 2, refresh: { token: await signToken(secret, { sub: "7" }, 3) } });
      await eventually(() => expect(c.transport.reply(2).refresh.ttl).toBe(2));
    } finally {
      vi.useRealTimers();
    }
  });

  it("a connection closed while subscribing leaves no presence behind", async () => {
    node = await createTestNode();
    const a = await connected(node);
    // A slow presence store (as Redis can be) widens the window between subscribe and join.
    const add = node.presenceStore.add.bind(node.presenceStore);
    node.presenceStore.add = async (...args) => {
      await new Promise((r) => setTimeout(r, 20));
      return add(...args);
    };
    a.send({ id: 2, subscribe: { channel: "racy" } });
    await new Promise((r) => setTimeout(r, 5));
    a.session.close(new (await import("../../src/errors.js")).Disconnect(3000, "bye"));
    await new Promise((r) => setTimeout(r, 80));
    expect(await node.presence("racy")).toEqual({});
    expect(node.hub.numSubscribers("racy")).toBe(0);
  });

  it("a server unsubscribe that lands while subscribing leaves no subscription or presence behind", async () => {
    node = await createTestNode();
    const a = await connected(node);
    const add = node.presenceStore.add.bind(node.presenceStore);
    node.presenceStore.add = async (...args) => {
      await new Promise((r) => setTimeout(r, 20));
      return add(...args);
    };
    a.send({ id: 2, subscribe: { channel: "racy2" } });
    await new Promise((r) => setTimeout(r, 5));
    a.session.serverUnsubscribe("racy2");
    await new Promise((r) => setTimeout(r, 80));
    expect(await node.presence("racy2")).toEqual({});
    expect(node.hub.numSubscribers("racy2")).toBe(0);
    expect(a.session.channels).toEqual([]);
  });

  it("a transport that throws on close still leaves no session, subscription or presence behind", async () => {
    node = await createTestNode();
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "boom" } });
    await eventually(() => a.transport.reply(2));
    a.transport.closeThrows = true;
    const bye = new (await import("../../src/errors.js")).Disconnect(3000, "bye");
    expect(() => a.session.close(bye)).not.toThrow();
    expect(a.transport.closedWith?.code).toBe(3000);
    expect(node.sessions.get(a.session.id)).toBeUndefined();
    await eventually(async () => expect(node.hub.numSubscribers("boom")).toBe(0));
    await eventually(async () => expect(Object.keys(await node.presence("boom"))).toEqual([]));
  });

  it("closing releases subscriptions and presence", async () => {
    node = await createTestNode();
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "gone" } });
    await eventually(() => a.transport.reply(2));
    expect(Object.keys(await node.presence("gone"))).toEqual([a.session.id]);
    a.session.close(new (await import("../../src/errors.js")).Disconnect(3000, "bye"));
    await eventually(async () => expect(node.hub.numSubscribers("gone")).toBe(0));
    await eventually(async () => expect(Object.keys(await node.presence("gone"))).toEqual([]));
  });

  it("a subscribe reply that cannot be encoded fails the command and leaves nothing subscribed", async () => {
    node = await createTestNode();
    const a = await connected(node);
    const spy = failEncoding((r) => r.subscribe !== undefined);
    try {
      a.send({ id: 2, subscribe: { channel: "enc" } });
      await eventually(() => expect(a.transport.reply(2).error.code).toBe(100));
    } finally {
      spy.mockRestore();
    }
    expect(a.session.channels).toEqual([]);
    await eventually(() => expect(node.hub.numSubscribers("enc")).toBe(0));
    // Not half-subscribed: subscribing again works (it answered 105 "already subscribed" before).
    a.send({ id: 3, subscribe: { channel: "enc" } });
    await eventually(() => expect(a.transport.reply(3).subscribe).toBeDefined());
    await node.publish("enc", Buffer.from('{"n":1}'));
    await eventually(() => expect(a.transport.pushes("pub")).toHaveLength(1));
  });

  it("a receive-only subscribe whose frames cannot be encoded answers an error and unsubscribes", async () => {
    node = await createTestNode();
    const a = await connected(node);
    const spy = failEncoding((r) => r.subscribe !== undefined);
    try {
      await a.session.subscribeAndStream(1, { channel: "sse-enc", token: "", recover: false, epoch: "", offset: "0" });
    } finally {
      spy.mockRestore();
    }
    expect(a.transport.frames.at(-1)).toMatchObject({ id: 1, error: { code: 100 } });
    expect(a.session.channels).toEqual([]);
    expect(node.hub.numSubscribers("sse-enc")).toBe(0);
  });

  it("what arrives while a subscribe waits for history is bounded like the client's queue", async () => {
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    const history = new MemoryHistoryStore();
    const read = history.read.bind(history);
    history.read = async (...args) => {
      await stalled;
      return read(...args);
    };
    node = await createTestNode({ clientQueueMaxBytes: 64 * 1024 }, undefined, { history });
    const a = await connected(node);
    a.send({ id: 2, subscribe: { channel: "slow", recover: true, epoch: "", offset: "0" } });
    await eventually(() => expect(node.hub.numSubscribers("slow")).toBe(1));
    const data = Buffer.from(JSON.stringify({ pad: "x".repeat(4096) }));
    for (let i = 0; i < 40 && !a.transport.closedWith; i++) await node.publish("slow", data);
    release();
    expect(a.transport.closedWith?.code).toBe(3008);
    await eventually(() => expect(node.hub.numSubscribers("slow")).toBe(0));
  });
});
