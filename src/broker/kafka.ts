import { CompressionTypes, Kafka, logLevel, type Consumer, type Message, type Producer } from "kafkajs";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler } from "./broker.js";

export interface KafkaBrokerOptions {
  brokers: string[];
  /** Topics are `<prefix>.0` ... `<prefix>.<topics-1>`. */
  prefix: string;
  topics: number;
  nodeId: string;
  compression: "none" | "gzip";
  /** Create missing topics through the admin API (off when topics are pre-created). */
  createTopics: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Most messages waiting for the producer; past it publish fails at once. */
  maxPending?: number;
}

/** FNV-1a: a stable, cheap hash so every node maps a channel to the same topic. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Kafka between nodes, the grouped-topic way: channels hash into a few topics (the channel is
 * the message key, so one channel stays in one partition and keeps its order). Publishes
 * made in the same tick go out as one `sendBatch`. Every node consumes every topic in its own
 * consumer group, starting from the latest offsets at start, delivers with `eachBatch`, and
 * commits offsets itself after delivery.
 *
 * Trade-off: batching and the consumer's fetch loop add latency (a few ms at low rate, more
 * under `maxWaitTimeInMs`) in exchange for throughput and durability of the log.
 */
export class KafkaBroker implements Broker {
  readonly kind = "kafka";
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private readonly topicNames: string[];
  private handler: EnvelopeHandler | null = null;
  private queue: Pending[] = [];
  private flushing = false;
  private producerUp = false;
  private consumerUp = false;
  private closed = false;
  private readonly maxPending: number;

  constructor(
    private readonly opts: KafkaBrokerOptions,
    private readonly log: Logger,
  ) {
    this.maxPending = opts.maxPending ?? 10_000;
    this.topicNames = Array.from({ length: opts.topics }, (_, i) => `${opts.prefix}.${i}`);
    this.kafka = new Kafka({
      clientId: `realtime-hub-${opts.nodeId}`,
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    this.producer = this.kafka.producer({ allowAutoTopicCreation: true });
    this.consumer = this.kafka.consumer({
      groupId: `${opts.prefix}-node-${opts.nodeId}`,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      maxWaitTimeInMs: 100,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 3000 },
    });
    this.producer.on(this.producer.events.CONNECT, () => (this.producerUp = true));
    this.producer.on(this.producer.events.DISCONNECT, () => (this.producerUp = false));
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.consumerUp = true));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.consumerUp = false;
      this.log.warn({ err: e.payload.error }, "kafka consumer crashed; kafkajs restarts it");
    });
  }

  topicOf(channel: string): string {
    return this.topicNames[fnv1a(channel) % this.topicNames.length]!;
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    this.handler = handler;
    const brokers = this.opts.brokers.join(",");
    const admin = this.kafka.admin();
    const latest: Array<{ topic: string; partition: number; offset: string }> = [];
    try {
      await admin.connect();
      if (this.opts.createTopics) {
        try {
          await admin.createTopics({ topics: this.topicNames.map((topic) => ({ topic, numPartitions: 4 })), waitForLeaders: true });
        } catch (err) {
          // Some brokers (and managed clusters) refuse CreateTopics; pre-created topics then work.
          this.log.warn({ err: (err as Error).message }, "kafka: could not create topics; expecting them to exist");
        }
      }
      for (const topic of this.topicNames)
        for (const p of await admin.fetchTopicOffsets(topic)) latest.push({ topic, partition: p.partition, offset: p.high });
      await this.producer.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: this.topicNames, fromBeginning: false });
    } catch (err) {
      throw new Error(`kafkaBrokers ${brokers}: ${(err as Error).message}`, { cause: err });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let last: string | undefined;
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          if (m.value) {
            try {
              this.handler?.(BrokerEnvelope.decode(m.value));
            } catch (err) {
              this.log.warn({ err, topic: batch.topic }, "undecodable broker message dropped");
            }
          }
          resolveOffset(m.offset);
          last = m.offset;
        }
        // Committed after delivery: a restart resumes after what was delivered.
        if (last !== undefined)
          await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }]);
        await heartbeat();
      },
    });
    // Realtime: start at what was the end of each partition when this node started.
    for (const l of latest) this.consumer.seek(l);
  }

  publish(envelope: BrokerEnvelope): Promise<void> {
    if (this.closed) return Promise.reject(new Error("kafka broker closed"));
    if (this.queue.length >= this.maxPending) return Promise.reject(new Error("kafka producer queue full (broker down or too slow)"));
    return new Promise((resolve, reject) => {
      this.queue.push({
        topic: this.topicOf(envelope.channel),
        message: { key: envelope.channel, value: Buffer.from(BrokerEnvelope.encode(envelope).finish()) },
        resolve,
        reject,
      });
      if (!this.flushing) setImmediate(() => void this.flush());
      this.flushing = true;
    });
  }

  /** Sends everything queued as one batch; the next batch starts when this one is acked. */
  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    const byTopic = new Map<string, Message[]>();
    for (const p of batch) {
      let list = byTopic.get(p.topic);
      if (!list) byTopic.set(p.topic, (list = []));
      list.push(p.message);
    }
    try {
      await this.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        compression: this.opts.compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None,
        acks: 1,
      });
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
    if (this.queue.length > 0) setImmediate(() => void this.flush());
    else this.flushing = false;
  }

  async subscribe(_channel: string): Promise<void> {
    // Every node consumes every topic; the node's registry filters by channel.
  }

  async unsubscribe(_channel: string): Promise<void> {}

  healthy(): boolean {
    return this.producerUp && this.consumerUp;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    await Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect()]);
  }
}
