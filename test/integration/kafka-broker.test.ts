import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { CompressionCodecs, CompressionTypes, Kafka, logLevel, Partitioners, type Consumer, type Producer } from "kafkajs";
import { brokerContract } from "../contract/broker.js";
import { KafkaBroker, type KafkaBrokerOptions } from "../../src/broker/kafka.js";
import type { PendingBound } from "../../src/broker/pending-bound.js";
import { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { defaultConfig, loadConfig, parseFlags } from "../../src/config.js";
import { startKafkaMock } from "../helpers/processes.js";
import { until } from "../helpers/until.js";

const prefix = "rhk";
const topics = [0, 1, 2, 3].map((i) => `${prefix}.${i}`);
let kafka: Awaited<ReturnType<typeof startKafkaMock>>;
beforeAll(async () => {
  kafka = await startKafkaMock(topics);
});
afterAll(async () => kafka?.stop());

const { kafkaMaxPending: maxPending, kafkaMaxPendingBytes: maxPendingBytes } = defaultConfig();
const bounds = { maxPending, maxPendingBytes };

let n = 0;
const create = () =>
  new KafkaBroker(
    { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId: `n${n++}`, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds },
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

describe("Kafka producer bounds", () => {
  it("fails a publish at once when the waiting payloads would pass maxPendingBytes", async () => {
    const b = new KafkaBroker(
      { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId: `n${n++}`, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds, maxPendingBytes: 1000 },
      pino({ level: "silent" }),
    );
    try {
      // Never started: the first publish waits (then fails), which is all this needs.
      const first = b.publish(pub("big", 1, 600)).catch(() => undefined);
      await expect(b.publish(pub("big", 2, 600))).rejects.toThrow(/bytes would be unanswered, limit 1000/);
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
    const options: Omit<KafkaBrokerOptions, "nodeId"> = { brokers: [kafka.bootstrap], prefix, topics: 4, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds };
    const a = new KafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const b = new CrashingOnceKafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const got: BrokerEnvelope[] = [];
    try {
      await a.start(() => undefined);
      await b.start((e) => got.push(e));
      await until(() => a.healthy() && b.healthy(), 20_000);
      const channel = `crash-${Math.random().toString(36).slice(2, 8)}`;
      await a.publish(pub(channel, 1));
      await until(() => b.crashed, 20_000);
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
      await until(() => a.healthy() && b.healthy(), 20_000);
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
    const options: Omit<KafkaBrokerOptions, "nodeId"> = { brokers: [own.bootstrap], prefix: "rhr", topics: 4, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds };
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
      await until(() => a.healthy() && b.healthy(), 20_000);
      // Offsets in every partition, so b's consumer positions are past what the new cluster has.
      for (let i = 0; i < 20; i++) await a.publish(pub(`${channel}-${i}`, 0));
      await a.publish(pub(channel, 1));
      await until(() => got.length === 1, 20_000);

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

describe("Kafka reconnect listeners", () => {
  it("a listener that throws leaves the batch settled once: nothing pending, the byte bound as tight, healthy", async () => {
    const b = new KafkaBroker(
      { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId: `n${n++}`, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds, maxPendingBytes: 1000 },
      pino({ level: "silent" }),
    );
    const state = (b as unknown as { batcher: { sendFailing: boolean; bound: PendingBound; queue: unknown[] } }).batcher;
    let calls = 0;
    b.onReconnect(() => {
      calls++;
      throw new Error("listener broke");
    });
    try {
      await b.start(() => undefined);
      await until(() => b.healthy(), 20_000);
      // As after failed sends (the health test above provokes them): the next success tells
      // the listeners, from inside flush().
      state.sendFailing = true;
      await b.publish(pub("listener", 1, 600));
      expect(calls).toBe(1);
      expect(state.bound.pending().bytes).toBe(0);
      expect(state.queue).toHaveLength(0);
      expect(b.healthy()).toBe(true);
      // Settled twice, the bytes would have gone negative and let 1,200 bytes wait.
      const first = b.publish(pub("listener", 2, 600));
      await expect(b.publish(pub("listener", 3, 600))).rejects.toThrow(/bytes would be unanswered, limit 1000/);
      await first;
      expect(state.bound.pending().bytes).toBe(0);
      expect(b.healthy()).toBe(true);
      expect(calls).toBe(1);
    } finally {
      await b.close();
    }
  }, 30_000);
});

describe("Kafka consumer rejoining with offsets the cluster does not have", () => {
  /**
   * As after a crash with the cluster back empty: the recreated consumer seeks offsets past the
   * end of every partition; kafkajs fetches, fails, resets one partition to the latest offset,
   * fetches again... emitting FETCH each time, the first of which has the node fill. From that
   * first fill on, `a` publishes into every partition; b's node would find a publication in
   * history if a fill started after its send was acked (the history append comes first).
   * `every` ms, `perRound` partitions in turn get one publication each.
   */
  async function rejoinOutOfRange(every: number, perRound: number) {
    const own = await startKafkaMock(["rhs.0", "rhs.1", "rhs.2", "rhs.3"]);
    const options: Omit<KafkaBrokerOptions, "nodeId"> = { brokers: [own.bootstrap], prefix: "rhs", topics: 4, compression: "none", createTopics: false, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds };
    const a = new KafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const b = new KafkaBroker({ ...options, nodeId: `n${n++}` }, pino({ level: "silent" }));
    const internals = (b as unknown as { runner: { resumeAt: Map<string, { offset: string }>; restart(): Promise<void> } }).runner;
    const tag = Math.random().toString(36).slice(2, 8);
    // One channel per partition, placed as kafkajs' producer places them (murmur2 of the key).
    const place = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
    const byPartition = new Map<string, string>();
    for (let i = 0; byPartition.size < 16; i++) {
      const channel = `settle-${tag}-${i}`;
      const topic = b.topicOf(channel);
      byPartition.set(`${topic}/${place({ topic, partitionMetadata, message: { key: channel, value: null } })}`, channel);
    }
    const channels = [...byPartition.values()];
    const consumed = new Set<string>();
    const fills: number[] = [];
    const probes: Array<{ id: string; ackedAt: number }> = [];
    let probing: Promise<void> | undefined;
    const probe = async () => {
      const start = Date.now();
      for (let k = 0; ; k++) {
        // Until well after the last fill (or long past when it should have come).
        if (fills.length >= 2 && Date.now() - fills[fills.length - 1]! > 1500) return;
        if (Date.now() - start > 10_000) return;
        const round = Array.from({ length: perRound }, (_, i) => channels[(k * perRound + i) % channels.length]!);
        await Promise.all(round.map((c) => a.publish(pub(c, k, String(k).length)).then(() => void probes.push({ id: `${c}/${k}`, ackedAt: Date.now() }))));
        await new Promise((r) => setTimeout(r, every));
      }
    };
    b.onReconnect(() => {
      fills.push(Date.now());
      probing ??= probe();
    });
    try {
      await a.start(() => undefined);
      await b.start((e) => void consumed.add(`${e.channel}/${e.publication!.data.toString()}`));
      await until(() => a.healthy() && b.healthy(), 20_000);
      for (const r of internals.resumeAt.values()) r.offset = "1000000";
      await internals.restart();
      await until(() => probing !== undefined, 30_000);
      await probing;
      const last = fills[fills.length - 1]!;
      const covered = (p: { id: string; ackedAt: number }) => consumed.has(p.id) || p.ackedAt < last;
      await until(() => probes.every(covered), 10_000).catch(() => undefined);
      const lost = probes.filter((p) => !covered(p));
      const since = (t: number) => t - fills[0]!;
      expect(lost.map((p) => `${p.id} acked at +${since(p.ackedAt)} ms`), `fills at +${fills.map(since)} ms`).toEqual([]);
      expect(fills.length).toBeGreaterThanOrEqual(2);
      // The consumer did settle: what was sent after the last fill reached it through the log.
      expect(probes.filter((p) => p.ackedAt > last).length).toBeGreaterThan(0);
    } finally {
      await a.close();
      await b.close();
      await own.stop();
    }
  }

  it("fills again once its offsets settled: with traffic in every partition (the resets take a few ms each)", async () => {
    // The first fill alone would miss what is sent while the 16 partitions are reset.
    await rejoinOutOfRange(50, 16);
  }, 60_000);

  it("fills again once its offsets settled: with little traffic (each reset waits out a long poll on the mock)", async () => {
    await rejoinOutOfRange(150, 1);
  }, 60_000);
});

/** FNV-1a, written out again: every node must map a channel to the same topic, whatever version it runs. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  envelope: BrokerEnvelope;
}

/**
 * One hub broker as configured by default (createTopics on) plus gzip, and a plain kafkajs
 * consumer in a group of its own reading the hub's topics from the beginning: both join their
 * groups once (a few seconds each on the mock) for all the tests below.
 */
describe("Kafka broker as configured in production (createTopics, gzip), read back raw", () => {
  const logs: Array<{ level: number; msg: string; err?: unknown }> = [];
  const got: BrokerEnvelope[] = [];
  const raw: RawRecord[] = [];
  /** What kafkajs' gzip codec decompressed in this process: the batches fetched gzip-compressed. */
  const gunzipped: Buffer[] = [];
  const gzipCodec = CompressionCodecs[CompressionTypes.GZIP];
  /** The hub's deliveries and offset commits, in the order they happened. */
  const events: Array<{ delivered: BrokerEnvelope } | { committed: Array<{ topic: string; partition: number; offset: string }> }> = [];
  class RecordingKafkaBroker extends KafkaBroker {
    protected override deliver(value: Buffer, topic: string): void {
      events.push({ delivered: BrokerEnvelope.decode(value) });
      super.deliver(value, topic);
    }
  }
  const nodeId = `n${n++}`;
  let hub: KafkaBroker;
  let tap: Consumer;
  const tag = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    // kafkajs does not expose a fetched batch's attributes; the codec registry tells instead.
    CompressionCodecs[CompressionTypes.GZIP] = () => {
      const codec = gzipCodec();
      return {
        compress: codec.compress,
        decompress: async (buf: Buffer) => {
          const out = await codec.decompress(buf);
          gunzipped.push(out);
          return out;
        },
      };
    };
    hub = new RecordingKafkaBroker(
      { brokers: [kafka.bootstrap], prefix, topics: 4, nodeId, compression: "gzip", createTopics: true, sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, ...bounds },
      pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
    );
    const consumer = (hub as unknown as { runner: { consumer: Consumer } }).runner.consumer;
    const commit = consumer.commitOffsets.bind(consumer);
    consumer.commitOffsets = (offsets) => {
      events.push({ committed: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })) });
      return commit(offsets);
    };
    tap = new Kafka({ clientId: "raw-tap", brokers: [kafka.bootstrap], logLevel: logLevel.NOTHING }).consumer({
      groupId: `raw-tap-${tag}`,
      sessionTimeout: 3000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
    });
    let tapJoined = false;
    tap.on(tap.events.GROUP_JOIN, () => (tapJoined = true));
    const startTap = async () => {
      await tap.connect();
      await tap.subscribe({ topics, fromBeginning: true });
      await tap.run({
        eachMessage: async ({ topic, partition, message }) => {
          raw.push({ topic, partition, offset: message.offset, key: message.key?.toString(), envelope: BrokerEnvelope.decode(message.value!) });
        },
      });
    };
    await Promise.all([hub.start((e) => got.push(e)), startTap()]);
    await until(() => hub.healthy() && tapJoined, 20_000);
  });
  afterAll(async () => {
    CompressionCodecs[CompressionTypes.GZIP] = gzipCodec;
    await Promise.allSettled([hub?.close(), tap?.disconnect()]);
  });

  it("starts against a cluster that refuses CreateTopics, says so, and delivers through the existing topics", async () => {
    const warning = logs.find((l) => l.msg === "kafka: could not create topics; expecting them to exist");
    expect(warning, JSON.stringify(logs)).toBeDefined();
    expect(warning!.level).toBe(40);
    // With the reason kafkajs gave (the mock answers "Broker 0 not found in the cached metadata").
    expect(warning!.err).toEqual(expect.stringMatching(/\S/));
    const channel = `create-${tag}`;
    await hub.publish(pub(channel, 1));
    await until(() => got.some((e) => e.channel === channel), 20_000);
  });

  it("sends gzip-compressed batches when compression is gzip, and delivers them", async () => {
    const channel = `gzip-${tag}`;
    const marker = Buffer.from(`payload-${tag}-`.repeat(20));
    await hub.publish({ ...pub(channel, 1), publication: { ...pub(channel, 1).publication!, data: marker } });
    await until(() => got.some((e) => e.channel === channel) && raw.some((r) => r.envelope.channel === channel), 20_000);
    expect(Buffer.from(got.find((e) => e.channel === channel)!.publication!.data)).toEqual(marker);
    // The batch sits in the log compressed: whoever fetched it had to gunzip it.
    expect(gunzipped.some((b) => b.includes(marker))).toBe(true);
    // The config lets through only what the broker knows how to send.
    expect(() => loadConfig({ flags: parseFlags(["--dev", "--kafka-compression", "snappy"]) })).toThrow(/kafka-compression: must be one of none, gzip/);
    expect(loadConfig({ flags: parseFlags(["--dev", "--kafka-compression", "gzip"]) }).kafkaCompression).toBe("gzip");
  });

  it("keys each message with its channel, in topic <prefix>.<fnv1a(channel) % topics>, one partition per channel", async () => {
    // Channels until every topic has one, a few messages each.
    const channels: string[] = [];
    for (let i = 0; new Set(channels.map((c) => fnv1a(c) % 4)).size < 4; i++) channels.push(`key-${tag}-${i}`);
    for (let m = 1; m <= 3; m++) for (const c of channels) await hub.publish(pub(c, m));
    const mine = () => raw.filter((r) => channels.includes(r.envelope.channel));
    await until(() => mine().length === channels.length * 3, 20_000);
    for (const r of mine()) {
      expect(r.key).toBe(r.envelope.channel);
      expect(r.topic).toBe(`${prefix}.${fnv1a(r.envelope.channel) % 4}`);
      expect(r.topic).toBe(hub.topicOf(r.envelope.channel));
    }
    expect(new Set(mine().map((r) => r.topic)).size).toBe(4);
    for (const c of channels) {
      const of = mine().filter((r) => r.envelope.channel === c);
      expect(new Set(of.map((r) => r.partition)).size).toBe(1);
      expect(of.map((r) => r.envelope.publication!.data.toString())).toEqual(["1", "2", "3"]);
    }
  });

  it("sends what is published in one tick as one sendBatch (one Produce request)", async () => {
    const producer = (hub as unknown as { batcher: { producer: Producer } }).batcher.producer;
    const sendBatch = vi.spyOn(producer, "sendBatch");
    let produceRequests = 0;
    const off = producer.on(producer.events.REQUEST, (e) => {
      if (e.payload.apiName === "Produce") produceRequests++;
    });
    try {
      const channels = [0, 1, 2, 3, 4].map((i) => `tick-${tag}-${i}`);
      const sent: Array<Promise<void>> = [];
      for (let m = 0; m < 10; m++) for (const c of channels) sent.push(hub.publish(pub(c, m)));
      await Promise.all(sent);
      expect(sendBatch).toHaveBeenCalledTimes(1);
      const batch = sendBatch.mock.calls[0]![0];
      expect(batch.topicMessages!.flatMap((t) => t.messages)).toHaveLength(50);
      expect(batch.topicMessages!.map((t) => t.topic).sort()).toEqual([...new Set(channels.map((c) => hub.topicOf(c)))].sort());
      expect(batch.compression).toBe(CompressionTypes.GZIP);
      // The mock is one broker: one batch is one request.
      expect(produceRequests).toBe(1);
      await until(() => got.filter((e) => channels.includes(e.channel)).length === 50, 20_000);
      for (const c of channels)
        expect(got.filter((e) => e.channel === c).map((e) => Number(e.publication!.data.toString()))).toEqual([...Array(10).keys()]);
    } finally {
      off();
      sendBatch.mockRestore();
    }
  });

  it("commits a partition's offset only after delivering every message below it, and the commit reaches the cluster", async () => {
    // The crash test above resumes from what the broker remembers in process; this is what a
    // consumer kafkajs restarts itself (retriable errors) resumes from.
    const channel = `commit-${tag}`;
    for (let m = 0; m < 5; m++) await hub.publish(pub(channel, m));
    await Promise.all([5, 6, 7, 8, 9].map((m) => hub.publish(pub(channel, m))));
    const mine = () => raw.filter((r) => r.envelope.channel === channel);
    await until(() => mine().length === 10 && got.filter((e) => e.channel === channel).length === 10, 20_000);
    const { topic, partition } = mine()[0]!;
    const isCommit = (e: (typeof events)[number], offset: string) =>
      "committed" in e && e.committed.some((c) => c.topic === topic && c.partition === partition && BigInt(c.offset) > BigInt(offset));
    for (const r of mine()) {
      const delivered = events.findIndex(
        (e) => "delivered" in e && e.delivered.channel === channel && e.delivered.publication!.data.toString() === r.envelope.publication!.data.toString(),
      );
      expect(delivered).toBeGreaterThanOrEqual(0);
      // No commit past this message before it was delivered, and one after it.
      expect(events.findIndex((e) => isCommit(e, r.offset))).toBeGreaterThan(delivered);
    }
    const end = BigInt(mine().reduce((a, r) => (BigInt(r.offset) > BigInt(a) ? r.offset : a), "0")) + 1n;
    const admin = new Kafka({ clientId: "raw-admin", brokers: [kafka.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      let committed = -1n;
      for (let i = 0; committed < end; i++) {
        if (i > 50) throw new Error(`group offset of ${topic}/${partition} is ${committed}, want ${end}`);
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        const [t] = await admin.fetchOffsets({ groupId: `${prefix}-node-${nodeId}`, topics: [topic] });
        committed = BigInt(t!.partitions.find((p) => p.partition === partition)!.offset);
      }
      expect(committed).toBe(end);
    } finally {
      await admin.disconnect();
    }
  });
});
