import { afterEach, describe, expect, it } from "vitest";
import { MemoryBus } from "../../src/broker/memory.js";
import { GAP_WAIT_MS, type HubNode } from "../../src/node.js";
import type { Publication } from "../../src/gen/realtime/v1/types.js";
import type { Subscriber } from "../../src/hub.js";
import type { Frame } from "../../src/transport/frame.js";
import { createTestNode } from "../helpers/node.js";
import { eventually } from "../helpers/fake-transport.js";
import type { IdempotencyStore } from "../../src/idempotency/idempotency-store.js";

const nodes: HubNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.shutdown();
});

function recorder(id: string) {
  const got: any[] = [];
  const s: Subscriber = { id, user: "", deliver: (channel, frame) => got.push({ channel, ...JSON.parse(frame.json().toString()) }) };
  return { s, got };
}

describe("node data path", () => {
  it("delivers locally and across nodes exactly once, never re-publishing what came from the broker", async () => {
    const bus = new MemoryBus();
    const a = await createTestNode({ nodeId: "a" }, bus);
    const b = await createTestNode({ nodeId: "b" }, bus);
    nodes.push(a, b);
    const ra = recorder("ra");
    const rb = recorder("rb");
    await a.subscribe("x", ra.s);
    await b.subscribe("x", rb.s);
    await a.publish("x", Buffer.from('"one"'));
    await b.publish("x", Buffer.from('"two"'));
    await eventually(() => expect(rb.got).toHaveLength(2));
    await eventually(() => expect(ra.got).toHaveLength(2));
    await new Promise((r) => setTimeout(r, 20));
    expect(ra.got.map((f) => f.push.pub.data)).toEqual(["one", "two"]);
    expect(rb.got.map((f) => f.push.pub.data)).toEqual(["one", "two"]);
    // Two publishes, two broker messages: nothing consumed was published again.
    // Two publishes, two publication envelopes (besides one announcement per node).
    expect(bus.published).toBe(2 + 2);
    expect(a.counters.brokerPublished + b.counters.brokerPublished).toBe(2);
    expect(a.clusterInfo().map((n) => n.id)).toEqual(["a", "b"]);
  });

  it("encodes a publication once: every local subscriber gets the same bytes", async () => {
    const n = await createTestNode();
    nodes.push(n);
    const frames: Frame[] = [];
    for (const id of ["s1", "s2", "s3"]) await n.subscribe("once", { id, user: "", deliver: (_c, f) => frames.push(f) });
    await n.publish("once", Buffer.from('{"a":1}'));
    expect(frames).toHaveLength(3);
    const bytes = frames.map((f) => f.json());
    expect(bytes[1]).toBe(bytes[0]);
    expect(bytes[2]).toBe(bytes[0]);
  });

  it("keeps its clients' presence entries alive past the TTL, and lets them go when they leave", async () => {
    const n = await createTestNode({ presenceTtlSeconds: 1 });
    nodes.push(n);
    const info = { user: "u1", client: "c1", connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) };
    const ns = n.options("pr:1");
    await n.join("pr:1", info, ns);
    await new Promise((r) => setTimeout(r, 2500));
    expect(Object.keys(await n.presence("pr:1"))).toEqual(["c1"]);
    await n.leave("pr:1", info, ns);
    expect(await n.presence("pr:1")).toEqual({});
  });

  it("answers a repeated idempotency key with the first result and delivers once", async () => {
    const n = await createTestNode();
    nodes.push(n);
    const r = recorder("r");
    await n.subscribe("idem", r.s);
    const first = await n.publish("idem", Buffer.from("1"), { idempotencyKey: "k1" });
    const again = await n.publish("idem", Buffer.from("1"), { idempotencyKey: "k1" });
    const other = await n.publish("idem", Buffer.from("2"), { idempotencyKey: "k2" });
    expect(again).toEqual(first);
    expect(other.offset).not.toBe(first.offset);
    expect(r.got).toHaveLength(2);
  });

  it("keeps one publisher's order when an idempotent publish first waits for its key", async () => {
    // As the Redis store does: a round trip before the publish runs.
    const slow: IdempotencyStore = {
      async run(_channel, _key, fn) {
        await new Promise((r) => setTimeout(r, 50));
        return fn();
      },
      close() {},
    };
    const n = await createTestNode({}, undefined, { idempotency: slow });
    nodes.push(n);
    const r = recorder("r");
    await n.subscribe("ord", r.s);
    let firstDone = false;
    const all = Promise.all([
      n.publish("ord", Buffer.from('"a"'), { idempotencyKey: "k1" }).finally(() => (firstDone = true)),
      n.publish("ord", Buffer.from('"b"')),
      n.publish("ord", Buffer.from('"c"'), { idempotencyKey: "k2" }),
      n.publish("ord", Buffer.from('"d"')),
    ]);
    // Another channel does not wait for them.
    await n.publish("free", Buffer.from('"x"'));
    expect(firstDone).toBe(false);
    expect((await all).map((p) => p.offset)).toEqual(["1", "2", "3", "4"]);
    expect(r.got.map((f) => f.push.pub.data)).toEqual(["a", "b", "c", "d"]);
  });

  it("a subscription the broker refuses leaves nothing behind", async () => {
    const n = await createTestNode();
    nodes.push(n);
    const r = recorder("r");
    n.broker.subscribe = async () => {
      throw new Error("broker down");
    };
    await expect(n.subscribe("refused", r.s)).rejects.toThrow("broker down");
    expect(n.hub.has("refused")).toBe(false);
    expect(n.channels("")).toEqual({});
  });

  it("skip_history delivers without keeping", async () => {
    const n = await createTestNode();
    nodes.push(n);
    const r = recorder("r");
    await n.subscribe("sk", r.s);
    const pos = await n.publish("sk", Buffer.from("1"), { skipHistory: true });
    expect(pos.offset).toBe("0");
    expect(r.got).toHaveLength(1);
    expect((await n.history("sk", { limit: 10 })).publications).toHaveLength(0);
  });

  it("a broker publish failure degrades to local delivery", async () => {
    const n = await createTestNode();
    nodes.push(n);
    n.broker.publish = async () => {
      throw new Error("broker down");
    };
    const r = recorder("r");
    await n.subscribe("down", r.s);
    await n.publish("down", Buffer.from("1"));
    expect(r.got).toHaveLength(1);
    await eventually(() => expect(n.counters.brokerPublishFailures).toBe(1));
  });

  it("Channels and Info report local figures", async () => {
    const n = await createTestNode({ nodeId: "info-node" });
    nodes.push(n);
    await n.subscribe("news", recorder("1").s);
    await n.subscribe("chat:1", recorder("2").s);
    expect(Object.keys(n.channels("chat:*"))).toEqual(["chat:1"]);
    expect(n.localInfo()).toMatchObject({ id: "info-node", broker: "memory", brokerHealthy: true, numChannels: 2 });
  });

  describe("delivery in offset order", () => {
    /** A node with `n` publications stored in `channel`'s history, and a subscriber at offset 0. */
    async function stored(channel: string, n: number) {
      const node = await createTestNode();
      nodes.push(node);
      const pubs: Publication[] = [];
      for (let i = 1; i <= n; i++) {
        const pub: Publication = { data: Buffer.from(String(i)), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" };
        await node.historyStore.append(channel, pub, { size: 100, ttlSeconds: 60 });
        pubs.push(pub);
      }
      const r = recorder("r");
      const disconnects: number[] = [];
      await node.subscribe(channel, Object.assign(r.s, { disconnect: (d: { code: number }) => disconnects.push(d.code), serverUnsubscribe() {} }));
      node.notePosition(channel, { epoch: pubs[0]!.epoch, offset: "0" });
      const offsets = () => r.got.map((f) => Number(f.push.pub.offset));
      return { node, pubs, offsets, disconnects };
    }

    it("puts publications a broker reordered back in order, and drops duplicates", async () => {
      const { node, pubs, offsets } = await stored("ord:1", 3);
      node.deliverPublication("ord:1", pubs[1]!);
      expect(offsets()).toEqual([]);
      node.deliverPublication("ord:1", pubs[0]!);
      node.deliverPublication("ord:1", pubs[0]!);
      node.deliverPublication("ord:1", pubs[2]!);
      node.deliverPublication("ord:1", pubs[1]!);
      expect(offsets()).toEqual([1, 2, 3]);
      expect(node.counters.duplicatesDropped).toBe(2);
    });

    it("fills a gap that stays open from history, in order", async () => {
      const { node, pubs, offsets, disconnects } = await stored("ord:2", 4);
      node.deliverPublication("ord:2", pubs[0]!);
      node.deliverPublication("ord:2", pubs[3]!); // 2 and 3 never come through the broker
      expect(offsets()).toEqual([1]);
      await new Promise((r) => setTimeout(r, GAP_WAIT_MS / 2));
      expect(offsets()).toEqual([1]);
      await eventually(() => expect(offsets()).toEqual([1, 2, 3, 4]));
      expect(node.counters.recoveredAfterReconnect).toBe(2);
      expect(disconnects).toEqual([]);
    });

    it("tells subscribers to recover when history cannot fill the gap", async () => {
      const { node, pubs, offsets, disconnects } = await stored("ord:3", 2);
      node.deliverPublication("ord:3", pubs[0]!);
      // Offset 4 of this epoch: 3 is in no history (trimmed, or the store lost it).
      node.deliverPublication("ord:3", { ...pubs[1]!, offset: "4" });
      await eventually(() => expect(disconnects).toEqual([3010]));
      expect(offsets()).toEqual([1, 2]);
      expect(node.counters.gapsLost).toBe(1);
    });

    it("does not mistake publications delivered while it reads the gap for a loss", async () => {
      const { node, pubs, offsets, disconnects } = await stored("ord:5", 4);
      const read = node.historyStore.read.bind(node.historyStore);
      let reading!: () => void;
      const started = new Promise<void>((r) => (reading = r));
      node.historyStore.read = async (...args) => {
        const r = await read(...args);
        reading();
        await new Promise((res) => setTimeout(res, 50));
        return r;
      };
      node.deliverPublication("ord:5", pubs[0]!);
      node.deliverPublication("ord:5", pubs[2]!);
      await started;
      // The late publication arrives while the fill's read is in flight.
      node.deliverPublication("ord:5", pubs[1]!);
      node.deliverPublication("ord:5", pubs[3]!);
      await eventually(() => expect(offsets()).toEqual([1, 2, 3, 4]));
      await new Promise((res) => setTimeout(res, 100));
      expect(disconnects).toEqual([]);
      expect(offsets()).toEqual([1, 2, 3, 4]);
    });

    it("retries a gap fill while history cannot be read", async () => {
      const { node, pubs, offsets } = await stored("ord:4", 3);
      const read = node.historyStore.read.bind(node.historyStore);
      let failures = 0;
      node.historyStore.read = async (...args) => {
        if (failures++ < 1) throw new Error("history down");
        return read(...args);
      };
      node.deliverPublication("ord:4", pubs[0]!);
      node.deliverPublication("ord:4", pubs[2]!);
      await eventually(() => expect(offsets()).toEqual([1, 2, 3]), 5000);
      expect(failures).toBe(2);
    });
  });
});
