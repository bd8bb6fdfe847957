import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { connect as natsConnect } from "nats";
import { connect as amqpConnect } from "amqplib";
import { Kafka, logLevel } from "kafkajs";
import { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";

/**
 * Taps on the brokers themselves: each listens to everything the hub sends through its broker,
 * as an outside client of that broker, and records every envelope. What a tap counts does not
 * depend on the hub's own bookkeeping (its metrics count only the publishes the node means to
 * make), so a publication re-published through any code path shows up here.
 *
 * Start a tap before the traffic it should see: Redis pub/sub, NATS core and a RabbitMQ queue
 * keep nothing for a listener that was not there yet (the Kafka tap reads its topics from the
 * beginning, so it sees everything in the log whenever its group join completes).
 */

type EnvelopeKind = "publication" | "join" | "leave" | "control" | "empty";

interface TappedEnvelope {
  kind: EnvelopeKind;
  origin: string;
  /** The hub channel inside the envelope; "" for control envelopes. */
  channel: string;
  /** The broker-side name it came through (pub/sub channel, subject, routing key, topic). */
  via: string;
  envelope: BrokerEnvelope;
}

export interface BrokerTap {
  readonly name: string;
  /** Every envelope seen, in arrival order. */
  readonly seen: TappedEnvelope[];
  /** Messages that did not decode as the hub's envelope (with where they came through). */
  readonly undecodable: string[];
  /** Publication envelopes, of one hub channel or of all. */
  publications(channel?: string): TappedEnvelope[];
  /** Control envelopes (empty channel: node announcements, cluster-wide commands). */
  controls(): TappedEnvelope[];
  /** A one-line summary of what was seen, for failure messages. */
  summary(): string;
  close(): Promise<void>;
}

function kindOf(env: BrokerEnvelope): EnvelopeKind {
  if (env.publication) return "publication";
  if (env.join) return "join";
  if (env.leave) return "leave";
  if (env.control) return "control";
  return "empty";
}

class Recorder implements Omit<BrokerTap, "close"> {
  readonly seen: TappedEnvelope[] = [];
  readonly undecodable: string[] = [];
  constructor(readonly name: string) {}

  record(via: string, bytes: Uint8Array): void {
    let envelope: BrokerEnvelope;
    try {
      envelope = BrokerEnvelope.decode(bytes);
    } catch (err) {
      this.undecodable.push(`${via}: ${(err as Error).message}`);
      return;
    }
    this.seen.push({ kind: kindOf(envelope), origin: envelope.origin, channel: envelope.channel, via, envelope });
  }

  publications(channel?: string): TappedEnvelope[] {
    return this.seen.filter((e) => e.kind === "publication" && (channel === undefined || e.channel === channel));
  }

  controls(): TappedEnvelope[] {
    return this.seen.filter((e) => e.channel === "");
  }

  summary(): string {
    const counts: Record<string, number> = {};
    for (const e of this.seen) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
    return `${this.name} tap: ${JSON.stringify(counts)}, undecodable ${this.undecodable.length}`;
  }
}

/**
 * Redis pub/sub: PSUBSCRIBE `<prefix>.*`, which covers the hub's `<prefix>.ch.<channel>` and
 * `<prefix>.control`. Messages are `<offset>:<epoch>:<BrokerEnvelope>` (src/broker/redis.ts).
 */
export async function tapRedis(url: string, prefix: string): Promise<BrokerTap> {
  const rec = new Recorder("redis");
  const sub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  sub.on("error", () => undefined);
  await sub.connect();
  sub.on("pmessageBuffer", (_pattern: Buffer, topic: Buffer, message: Buffer) => {
    const a = message.indexOf(0x3a);
    const b = a < 0 ? -1 : message.indexOf(0x3a, a + 1);
    if (b < 0) return void rec.undecodable.push(`${topic}: no <offset>:<epoch>: head`);
    rec.record(topic.toString(), message.subarray(b + 1));
  });
  // Resolves once the server confirmed the pattern: from then on nothing published is missed.
  await sub.psubscribe(`${prefix}.*`);
  return Object.assign(rec, {
    close: async () => {
      sub.disconnect();
    },
  });
}

/** NATS: a subscription to `<prefix>.>` (the hub's `<prefix>.ch.<token>` and `<prefix>.control`). */
export async function tapNats(url: string, prefix: string): Promise<BrokerTap> {
  const rec = new Recorder("nats");
  const nc = await natsConnect({ servers: url, name: "broker-tap" });
  nc.subscribe(`${prefix}.>`, { callback: (err, msg) => (err ? rec.undecodable.push(`${prefix}.>: ${err.message}`) : rec.record(msg.subject, msg.data)) });
  // The SUB is in place once the server answered a ping sent after it.
  await nc.flush();
  return Object.assign(rec, {
    close: async () => {
      await nc.drain().catch(() => nc.close());
    },
  });
}

/**
 * RabbitMQ: an exclusive queue of the tap's own bound with `#` to the hub's topic exchange, so
 * it gets a copy of everything any node publishes there. The exchange is declared as the hub
 * declares it (topic, durable), so the tap may start before the nodes.
 */
export async function tapRabbitMq(url: string, exchange: string): Promise<BrokerTap> {
  const rec = new Recorder("rabbitmq");
  const conn = await amqpConnect(url);
  conn.on("error", () => undefined);
  const ch = await conn.createChannel();
  await ch.assertExchange(exchange, "topic", { durable: true });
  const q = await ch.assertQueue("", { exclusive: true, autoDelete: true, durable: false });
  await ch.bindQueue(q.queue, exchange, "#");
  await ch.consume(q.queue, (msg) => msg && rec.record(msg.fields.routingKey, msg.content), { noAck: true });
  return Object.assign(rec, {
    close: async () => {
      await conn.close().catch(() => undefined);
    },
  });
}

/**
 * Kafka: a consumer in a group of its own over the hub's topics, from the beginning (topics are
 * per test). Resolves once the group's first join is done (or throws after `joinTimeoutMs`);
 * against librdkafka's mock cluster that takes ~3 s, so start the tap early.
 */
export async function tapKafka(bootstrap: string, topics: string[], joinTimeoutMs = 30_000): Promise<BrokerTap> {
  const rec = new Recorder("kafka");
  const kafka = new Kafka({ clientId: "broker-tap", brokers: bootstrap.split(","), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `broker-tap-${randomBytes(4).toString("hex")}`,
    sessionTimeout: 3000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  let onJoin!: () => void;
  const joined = new Promise<void>((r) => (onJoin = r));
  consumer.on(consumer.events.GROUP_JOIN, () => onJoin());
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      if (message.value) rec.record(`${topic}/${message.key?.toString() ?? ""}`, message.value);
      else rec.undecodable.push(`${topic}: message without value`);
    },
  });
  const close = async () => {
    await consumer.disconnect().catch(() => undefined);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([joined, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`kafka tap: no group join in ${joinTimeoutMs} ms`)), joinTimeoutMs)))]);
  } catch (err) {
    await close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return Object.assign(rec, { close });
}
