import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { KafkaBroker, type KafkaBrokerOptions } from "../../src/broker/kafka.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { startKafkaMock } from "../helpers/processes.js";

const prefix = "rhk";
const topics = [0, 1, 2, 3].map((i) => `${prefix}.${i}`);
let kafka: Awaited<ReturnType<typeof startKafkaMock>>;
beforeAll(async () => {
  kafka = await startKafkaMock(topics);
});
afterAll(async () => kafka?.stop());

let n = 0;
const create = () =>
  new KafkaBroker(
    { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId: `n${n++}`, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300 },
    pino({ level: "silent" }),
  );

describe("Kafka topics", () => {
  it("hashes a channel to the same topic on every node", () => {
    const a = create();
    const b = create();
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      expect(a.topicOf(`chat:${i}`)).toBe(b.topicOf(`chat:${i}`));
      seen.add(a.topicOf(`chat:${i}`));
    }
    expect(seen.size).toBe(4);
  });
});

brokerContract("kafka", async () => {
  const b = create();
  const start = b.start.bind(b);
  // A consumer group's first join takes a few seconds on the mock: wait until it consumes.
  b.start = async (handler) => {
    await start(handler);
    const end = Date.now() + 20_000;
    while (!b.healthy()) {
      if (Date.now() > end) throw new Error("kafka consumer did not join");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return b;
}, { consumesAll: true });

const pub = (channel: string, n: number, size = 1): BrokerEnvelope => ({
  origin: "t",
  channel,
  publication: { data: Buffer.alloc(size, String(n)), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" },
});

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("Kafka producer bounds", () => {
  it("fails a publish at once when the waiting payloads would pass maxPendingBytes", async () => {
    const b = new KafkaBroker(
      { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId: `n${n++}`, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, maxPendingBytes: 1000 },
      pino({ level: "silent" }),
    );
    try {
      // Never started: the first publish waits (then fails), which is all this needs.
      const first = b.publish(pub("big", 1, 600)).catch(() => undefined);
      await expect(b.publish(pub("big", 2, 600))).rejects.toThrow(/bytes would wait, limit 1000/);
      await first;
    } finally {
      await b.close();
    }
  });
});

/** Throws a TypeError out of eachBatch once: kafkajs gives up on such a consumer (restart: false). */
class CrashingOnceKafkaBroker extends KafkaBroker {
  crashed = false;
  protected override deliver(value: Buffer, topic: string): void {
    if (!this.crashed) {
      this.crashed = true;
      throw new TypeError("provoked");
    }
    super.deliver(value, topic);
  }
}

describe("Kafka consumer crash", () => {
  it("recreates a consumer kafkajs gave up on, reports unhealthy meanwhile, and loses nothing", async () => {
    const options: Omit<KafkaBrokerOptions, "nodeId"> = { brokers: [kafka.bootstrap], prefix, topics: 4, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, consumerRestartDelayMs: 100 };
    const a = new KafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const b = new CrashingOnceKafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const got: BrokerEnvelope[] = [];
    try {
      await a.start(() => undefined);
      await b.start((e) => got.push(e));
      await until(() => a.healthy() && b.healthy());
      const channel = `crash-${Math.random().toString(36).slice(2, 8)}`;
      await a.publish(pub(channel, 1));
      await until(() => b.crashed);
      await until(() => !b.healthy(), 5000);
      await until(() => b.healthy(), 30_000);
      await a.publish(pub(channel, 2));
      await until(() => got.filter((e) => e.channel === channel).length >= 2, 30_000);
      // The message that crashed it was not committed, so the new consumer delivers it again.
      expect(got.filter((e) => e.channel === channel).map((e) => e.publication!.data.toString())).toEqual(["1", "2"]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});

describe("Kafka health", () => {
  it("reports unhealthy after a failed send until a send succeeds again", async () => {
    const a = create();
    const b = create();
    const got: BrokerEnvelope[] = [];
    let reconnects = 0;
    b.onReconnect(() => reconnects++);
    try {
      await a.start(() => undefined);
      await b.start((e) => got.push(e));
      await until(() => a.healthy() && b.healthy());
      expect(reconnects).toBe(0);
      kafka.down(1);
      // The mock takes the command asynchronously: publishes may still succeed for a moment.
      for (let i = 0; await b.publish(pub("h", 1)).then(() => true, () => false); i++)
        if (i > 100) throw new Error("publishes kept succeeding with the broker down");
      expect(b.healthy()).toBe(false);
      kafka.up(1);
      // b consumes again (what a publishes reaches it), yet its producer has not shown it can send.
      for (let i = 0; !got.some((e) => e.channel === "h-after"); i++) {
        await a.publish(pub("h-after", 2)).catch(() => undefined);
        if (i > 300) throw new Error("b did not consume again");
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(b.healthy()).toBe(false);
      for (let i = 0; !(await b.publish(pub("h", 3)).then(() => true, () => false)); i++)
        if (i > 100) throw new Error("b could not publish again");
      expect(b.healthy()).toBe(true);
      // Others' sends may have failed meanwhile too: the node is told to fill from history.
      expect(reconnects).toBeGreaterThan(0);
    } finally {
      kafka.up(1);
      await a.close();
      await b.close();
    }
  }, 90_000);
});

describe("Kafka broker killed and restarted empty", () => {
  it("reports unhealthy, consumes again from the new cluster, and tells the node to fill from history", async () => {
    const own = await startKafkaMock(["rhr.0", "rhr.1", "rhr.2", "rhr.3"]);
    const options: Omit<KafkaBrokerOptions, "nodeId"> = { brokers: [own.bootstrap], prefix: "rhr", topics: 4, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300 };
    const a = new KafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const b = new KafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const got: string[] = [];
    // a sends nothing while the cluster is gone, so only its consumer can tell it to fill.
    const reconnects = { a: 0, b: 0 };
    a.onReconnect(() => reconnects.a++);
    b.onReconnect(() => reconnects.b++);
    const channel = `restart-${Math.random().toString(36).slice(2, 8)}`;
    try {
      await a.start(() => undefined);
      await b.start((e) => e.channel === channel && got.push(e.publication!.data.toString()));
      await until(() => a.healthy() && b.healthy());
      // Offsets in every partition, so b's consumer positions are past what the new cluster has.
      for (let i = 0; i < 20; i++) await a.publish(pub(`${channel}-${i}`, 0));
      await a.publish(pub(channel, 1));
      await until(() => got.length === 1);

      await own.kill9();
      for (let i = 0; await b.publish(pub("x", 0)).then(() => true, () => false); i++)
        if (i > 100) throw new Error("publishes kept succeeding with the broker killed");
      expect(b.healthy()).toBe(false);
      expect(reconnects).toEqual({ a: 0, b: 0 });
      await own.start();
      // b reports unhealthy until one of its sends succeeds again.
      for (let i = 0; !(await b.publish(pub("x", 0)).then(() => true, () => false)); i++) {
        if (i > 100) throw new Error("b could not publish to the restarted cluster");
        await new Promise((r) => setTimeout(r, 200));
      }
      await until(() => a.healthy() && b.healthy(), 30_000);
      expect(reconnects.b).toBeGreaterThan(0);
      await until(() => reconnects.a > 0, 20_000);
      // Delivery resumes (the consumer is not stuck at offsets the new cluster never had).
      for (let i = 0; !got.includes("2"); i++) {
        await a.publish(pub(channel, 2)).catch(() => undefined);
        if (i > 100) throw new Error(`b did not consume from the restarted cluster; got ${got}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await a.close();
      await b.close();
      await own.stop();
    }
  }, 60_000);
});
