import { CompressionTypes, type Kafka, type Message, type Producer } from "kafkajs";
import type { Logger } from "pino";
import { PendingBound } from "../pending-bound.js";
import type { KafkaRecord } from "./topics.js";

export interface KafkaBatcherOptions {
  compression: "none" | "gzip";
  createTopics: boolean;
  /** Most messages waiting for the producer. */
  maxPending: number;
  /** Most payload bytes waiting for or in the producer. */
  maxPendingBytes: number;
}

interface Pending {
  topic: string;
  message: Message;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Sends what is published in one tick as one `sendBatch`, one batch in flight at a time
 * (throughput: one Produce request per broker instead of one per publish). Past the bound a
 * send fails at once: the node must not hold an unbounded backlog for a cluster that is down.
 */
export class KafkaProducerBatcher {
  private readonly producer: Producer;
  /**
   * The count is of messages waiting for the producer, given back when their batch leaves; the
   * bytes stay counted until Kafka answered, since a batch in flight holds its memory too.
   */
  private readonly bound: PendingBound;
  private queue: Pending[] = [];
  private flushing = false;
  private connected = false;
  /** The last sendBatch failed and none succeeded since. */
  private sendFailing = false;
  private closed = false;

  constructor(
    kafka: Kafka,
    private readonly opts: KafkaBatcherOptions,
    private readonly log: Logger,
    /** A send succeeded after failed ones: others' sends may have failed too, so the node fills. */
    private readonly onRecovered: () => void,
  ) {
    this.bound = new PendingBound("kafka", opts.maxPending, opts.maxPendingBytes, false);
    // Where topics are managed for us, a typo'd prefix must fail publishes, not create topics.
    this.producer = kafka.producer({ allowAutoTopicCreation: opts.createTopics });
    this.producer.on(this.producer.events.CONNECT, () => (this.connected = true));
    this.producer.on(this.producer.events.DISCONNECT, () => (this.connected = false));
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  send(record: KafkaRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error("kafka broker closed"));
    try {
      this.bound.acquire(record.value.length);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ topic: record.topic, message: { key: record.key, value: record.value }, bytes: record.value.length, resolve, reject });
      if (!this.flushing) setImmediate(() => void this.flush());
      this.flushing = true;
    });
  }

  /**
   * The producer stays "connected" while it cannot send; only a send tells. The node announces
   * itself through the broker periodically, so a success comes soon after the cluster is back
   * even without client traffic.
   */
  healthy(): boolean {
    return this.connected && !this.sendFailing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.producer.disconnect();
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.bound.release(batch.length, 0);
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
      if (!this.sendFailing) this.log.warn({ err: (err as Error).message }, "kafka send failed; reporting unhealthy until a send succeeds");
      this.sendFailing = true;
      this.settled(batch);
      for (const p of batch) p.reject(err);
    }
    // Outside the try: whatever the listeners do, the batch is settled once.
    if (recovered) this.onRecovered();
    if (this.queue.length > 0) setImmediate(() => void this.flush());
    else this.flushing = false;
  }

  private settled(batch: Pending[]): void {
    this.bound.release(0, batch.reduce((n, p) => n + p.bytes, 0));
  }
}
