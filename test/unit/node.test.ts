import { afterEach, describe, expect, it } from "vitest";
import { MemoryBus } from "../../src/broker/memory.js";
import type { HubNode } from "../../src/node.js";
import type { Subscriber } from "../../src/hub.js";
import { createTestNode } from "../helpers/node.js";
import { eventually } from "../helpers/fake-transport.js";

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
});
