import { Kafka, logLevel, type TopicPartitionOffset } from "kafkajs";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler, ReconnectNotifier } from "./broker.js";
import { KafkaConsumerRunner } from "./kafka/consumer-runner.js";
import { KafkaProducerBatcher } from "./kafka/producer-batcher.js";
import { KafkaTopics } from "./kafka/topics.js";

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
  maxPending: number;
  /** Most payload bytes waiting for or in the producer; past it publish fails at once. */
  maxPendingBytes: number;
}

/**
 * Kafka between nodes: channels hash into a few topics, a batcher produces, a runner consumes.
 * How they behave through outages, and why: docs/cluster.md#kafka.
 */
export class KafkaBroker implements Broker, ReconnectNotifier {
  readonly kind = "kafka";
  private readonly kafka: Kafka;
  private readonly topics: KafkaTopics;
  private readonly batcher: KafkaProducerBatcher;
  private readonly runner: KafkaConsumerRunner;
  private handler: EnvelopeHandler | null = null;
  private readonly reconnectListeners: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly opts: KafkaBrokerOptions,
    private readonly log: Logger,
  ) {
    this.topics = new KafkaTopics(opts.prefix, opts.topics);
    this.kafka = new Kafka({
      clientId: `realtime-hub-${opts.nodeId}`,
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    this.batcher = new KafkaProducerBatcher(this.kafka, opts, log, () => this.reconnected("a send succeeded after failed ones"));
    this.runner = new KafkaConsumerRunner(
      this.kafka,
      { groupId: `${opts.prefix}-node-${opts.nodeId}`, topics: this.topics.names, sessionTimeoutMs: opts.sessionTimeoutMs, heartbeatIntervalMs: opts.heartbeatIntervalMs },
      log,
      (value, topic) => this.deliver(value, topic),
      (why) => this.reconnected(why),
    );
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /**
   * Tells the node to fill from history. A listener's error stays here: it is called from the
   * batcher's flush (whose batch accounting it must not disturb), from kafkajs' FETCH event and
   * from a timer.
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
    return this.topics.of(channel);
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    this.handler = handler;
    const admin = this.kafka.admin();
    let ends: TopicPartitionOffset[];
    try {
      await admin.connect();
      if (this.opts.createTopics) await this.topics.create(admin, this.log);
      ends = await this.topics.ends(admin);
      await this.batcher.connect();
      await this.runner.connect();
    } catch (err) {
      throw new Error(`kafkaBrokers ${this.opts.brokers.join(",")}: ${(err as Error).message}`, { cause: err });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await this.runner.run(ends);
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
    return this.batcher.send(this.topics.record(envelope.channel, Buffer.from(BrokerEnvelope.encode(envelope).finish())));
  }

  async subscribe(_channel: string): Promise<void> {
    // Every node consumes every topic; the node's registry filters by channel.
  }

  async unsubscribe(_channel: string): Promise<void> {}

  healthy(): boolean {
    return this.batcher.healthy() && this.runner.healthy();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
    await Promise.allSettled([this.runner.close(), this.batcher.close()]);
  }
}
