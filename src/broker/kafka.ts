import { CompressionTypes, Kafka, logLevel, type Consumer, type Message, type Producer } from "kafkajs";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler, ReconnectNotifier } from "./broker.js";

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
  /** Most messages waiting for the producer; past it publish fails at once. Default 10,000. */
  maxPending?: number;
  /** Most payload bytes waiting for or in the producer; past it publish fails at once. Default 64 MiB. */
  maxPendingBytes?: number;
  /** First delay before recreating a consumer kafkajs gave up on; doubles up to 30 s. Default 1000. */
  consumerRestartDelayMs?: number;
}

/** The consumer's long poll: how long a fetch waits for data when there is none. */
const FETCH_MAX_WAIT_MS = 100;

/**
 * After a rejoin, how long the second fill waits for the consumer's offsets to settle, given
 * the partitions assigned to it. kafkajs resets one out-of-range partition per fetch, and such
 * a fetch may take a whole long poll (librdkafka's mock answers the error only then) plus a
 * few round trips (commit, offset fetch, list offsets); other failed fetches are recovered
 * from in one or two rounds.
 */
function settleFillDelayMs(partitions: number): number {
  return 1000 + partitions * (FETCH_MAX_WAIT_MS + 50);
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
  bytes: number;
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
 *
 * healthy() is false after a failed send until a send succeeds, and while the consumer is out
 * of its group. kafkajs restarts a consumer after retriable errors only; after the others this
 * class recreates it, with backoff, resuming after what it delivered.
 *
 * What a node misses while cut off is not always in the log for it to consume later: other
 * nodes' sends failed meanwhile, and a cluster that comes back without its data (or without
 * the group's offsets) makes the consumer start again at the latest offsets. So the node is
 * told to fill from history (onReconnect) when a send succeeds after failed ones, and twice
 * after the consumer rejoins its group: at its first fetch (what it missed while out, soon),
 * and again once its offsets have settled (settleFillDelayMs). The first fetch does not prove
 * the consumer positioned: kafkajs emits FETCH after a fetch it failed and "recovered" from
 * too (stale metadata, a closed connection, offsets out of range, as after a restart that
 * seeks offsets a cluster back without its data never had: it resets those to the latest
 * offsets, one partition per fetch, each resolved at the next fetch), so a publication sent
 * after the first fill read history and before the consumer's offsets settled would be
 * neither consumed nor filled. The second fill reads history after they settled: what the
 * consumer skipped was in history by then. ChannelOrder drops what both fills deliver.
 */
export class KafkaBroker implements Broker, ReconnectNotifier {
  readonly kind = "kafka";
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private consumer: Consumer;
  private readonly topicNames: string[];
  private handler: EnvelopeHandler | null = null;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private producerUp = false;
  private consumerUp = false;
  /** The last sendBatch failed and none succeeded since. */
  private sendFailing = false;
  private closed = false;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  /** Where each partition resumes if this node has to recreate its consumer: after what it delivered. */
  private readonly resumeAt = new Map<string, { topic: string; partition: number; offset: string }>();
  private restartTimer: NodeJS.Timeout | undefined;
  private restartAttempts = 0;
  private readonly reconnectListeners: Array<() => void> = [];
  /** The consumer joined its group once: any later join follows an outage, a rebalance or a restart. */
  private joined = false;
  /** Rejoined: the next fetch tells the node to fill from history (and schedules the second fill). */
  private fillOnFetch = false;
  /** Partitions assigned to the consumer at its last join. */
  private assignedPartitions = 0;
  /** The second fill after a rejoin, once the consumer's offsets have settled. */
  private settleFillTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: KafkaBrokerOptions,
    private readonly log: Logger,
  ) {
    this.maxPending = opts.maxPending ?? 10_000;
    this.maxPendingBytes = opts.maxPendingBytes ?? 64 * 1024 * 1024;
    this.topicNames = Array.from({ length: opts.topics }, (_, i) => `${opts.prefix}.${i}`);
    this.kafka = new Kafka({
      clientId: `realtime-hub-${opts.nodeId}`,
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    // Where topics are managed for us, a typo'd prefix must fail publishes, not create topics.
    this.producer = this.kafka.producer({ allowAutoTopicCreation: opts.createTopics });
    this.consumer = this.createConsumer();
    this.producer.on(this.producer.events.CONNECT, () => (this.producerUp = true));
    this.producer.on(this.producer.events.DISCONNECT, () => (this.producerUp = false));
  }

  private createConsumer(): Consumer {
    const c = this.kafka.consumer({
      groupId: `${this.opts.prefix}-node-${this.opts.nodeId}`,
      sessionTimeout: this.opts.sessionTimeoutMs,
      heartbeatInterval: this.opts.heartbeatIntervalMs,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 3000 },
    });
    // Events of a consumer already replaced (it crashed, a new one runs) are stale.
    c.on(c.events.GROUP_JOIN, (e) => {
      if (c !== this.consumer) return;
      this.assignedPartitions = Object.values(e.payload.memberAssignment ?? {}).reduce((n, ps) => n + ps.length, 0);
      this.consumerUp = true;
      this.restartAttempts = 0;
      if (this.joined) this.fillOnFetch = true;
      this.joined = true;
    });
    c.on(c.events.FETCH, () => {
      if (c !== this.consumer || !this.fillOnFetch) return;
      this.fillOnFetch = false;
      this.reconnected("the consumer fetches again after rejoining its group");
      // This fetch may have failed (FETCH comes anyway) before the offsets were resolved:
      // fill again once they have settled. A later rejoin starts the wait again.
      clearTimeout(this.settleFillTimer);
      this.settleFillTimer = setTimeout(() => {
        this.settleFillTimer = undefined;
        this.reconnected("the consumer's offsets settled after rejoining its group");
      }, settleFillDelayMs(this.assignedPartitions));
      this.settleFillTimer.unref();
    });
    c.on(c.events.CRASH, (e) => {
      if (c !== this.consumer) return;
      this.consumerUp = false;
      if (e.payload.restart) {
        this.log.warn({ err: e.payload.error }, "kafka consumer crashed; kafkajs restarts it");
        return;
      }
      // kafkajs does not restart after a non-retriable error: without this the node would
      // silently stop receiving from the cluster for good.
      this.log.error({ err: e.payload.error }, "kafka consumer crashed and kafkajs gave up; recreating it");
      this.scheduleConsumerRestart();
    });
    return c;
  }

  private scheduleConsumerRestart(): void {
    if (this.closed || this.restartTimer) return;
    const delay = Math.min((this.opts.consumerRestartDelayMs ?? 1000) * 2 ** this.restartAttempts++, 30_000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restartConsumer();
    }, delay);
    this.restartTimer.unref();
  }

  private async restartConsumer(): Promise<void> {
    const old = this.consumer;
    this.consumer = this.createConsumer();
    await old.disconnect().catch(() => undefined);
    if (this.closed) return;
    try {
      await this.runConsumer(this.consumer, [...this.resumeAt.values()]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "kafka consumer restart failed; trying again");
      this.scheduleConsumerRestart();
    }
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /**
   * Tells the node to fill from history. A listener's error stays here: it is called from
   * flush() (whose batch accounting it must not disturb), from kafkajs' FETCH event and from
   * a timer.
   */
  private reconnected(why: string): void {
    if (this.closed) return;
    this.log.info(`kafka: ${why}; filling what was missed from history`);
    for (const l of this.reconnectListeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err }, "kafka: a reconnect listener failed");
      }
    }
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
    for (const l of latest) this.resumeAt.set(`${l.topic}:${l.partition}`, l);
    // Realtime: start at what was the end of each partition when this node started.
    await this.runConsumer(this.consumer, latest, true);
  }

  /** Runs `c` (connecting and subscribing it first unless `connected`) and seeks to `from`. */
  private async runConsumer(c: Consumer, from: Array<{ topic: string; partition: number; offset: string }>, connected = false): Promise<void> {
    if (!connected) {
      await c.connect();
      await c.subscribe({ topics: this.topicNames, fromBeginning: false });
    }
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let last: string | undefined;
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          if (m.value) this.deliver(m.value, batch.topic);
          resolveOffset(m.offset);
          last = m.offset;
        }
        if (last !== undefined) {
          const next = { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) };
          this.resumeAt.set(`${next.topic}:${next.partition}`, next);
          // Committed after delivery: a restart resumes after what was delivered.
          await c.commitOffsets([next]);
        }
        await heartbeat();
      },
    });
    for (const l of from) c.seek(l);
  }

  /**
   * Hands one message to the node. It must not throw: kafkajs treats a TypeError escaping
   * eachBatch as non-retriable and stops the consumer (tests override this to provoke that).
   */
  protected deliver(value: Buffer, topic: string): void {
    try {
      this.handler?.(BrokerEnvelope.decode(value));
    } catch (err) {
      this.log.warn({ err, topic }, "undecodable broker message dropped");
    }
  }

  publish(envelope: BrokerEnvelope): Promise<void> {
    if (this.closed) return Promise.reject(new Error("kafka broker closed"));
    if (this.queue.length >= this.maxPending)
      return Promise.reject(new Error(`kafka producer queue full: ${this.queue.length} messages waiting (broker down or too slow)`));
    const value = Buffer.from(BrokerEnvelope.encode(envelope).finish());
    // A count alone would let a few thousand large payloads take gigabytes.
    if (this.queuedBytes + value.length > this.maxPendingBytes)
      return Promise.reject(new Error(`kafka producer queue full: ${this.queuedBytes + value.length} bytes would wait, limit ${this.maxPendingBytes} (broker down or too slow)`));
    this.queuedBytes += value.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ topic: this.topicOf(envelope.channel), message: { key: envelope.channel, value }, bytes: value.length, resolve, reject });
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
    let recovered = false;
    try {
      await this.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        compression: this.opts.compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None,
        acks: 1,
      });
      recovered = this.sendFailing;
      this.sendFailing = false;
      this.settled(batch);
      for (const p of batch) p.resolve();
    } catch (err) {
      // The producer stays "connected" while it cannot send; only a send tells. The node
      // announces itself through the broker periodically, so a success comes soon after
      // the cluster is back even without client traffic.
      if (!this.sendFailing) this.log.warn({ err: (err as Error).message }, "kafka send failed; reporting unhealthy until a send succeeds");
      this.sendFailing = true;
      this.settled(batch);
      for (const p of batch) p.reject(err);
    }
    // Outside the try: whatever the listeners do, the batch is settled once.
    if (recovered) this.reconnected("a send succeeded after failed ones");
    if (this.queue.length > 0) setImmediate(() => void this.flush());
    else this.flushing = false;
  }

  /** Bytes count until the broker answered: a batch in flight holds its memory too. */
  private settled(batch: Pending[]): void {
    for (const p of batch) this.queuedBytes -= p.bytes;
  }

  async subscribe(_channel: string): Promise<void> {
    // Every node consumes every topic; the node's registry filters by channel.
  }

  async unsubscribe(_channel: string): Promise<void> {}

  healthy(): boolean {
    return this.producerUp && this.consumerUp && !this.sendFailing;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    clearTimeout(this.restartTimer);
    clearTimeout(this.settleFillTimer);
    await Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect()]);
  }
}
