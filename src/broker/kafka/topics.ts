import type { Admin, TopicPartitionOffset } from "kafkajs";
import type { Logger } from "pino";

/** One envelope as Kafka carries it. */
export interface KafkaRecord {
  topic: string;
  key: string;
  value: Buffer;
}

const PARTITIONS_PER_TOPIC = 4;

/** FNV-1a: a stable, cheap hash so every node maps a channel to the same topic. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The hub's topics, `<prefix>.0` ... `<prefix>.<count-1>`, and which one carries a channel.
 * Every node of a cluster must map alike, whatever version it runs: a channel mapped two ways
 * would be split across partitions and lose its order.
 */
export class KafkaTopics {
  readonly names: readonly string[];

  constructor(prefix: string, count: number) {
    this.names = Array.from({ length: count }, (_, i) => `${prefix}.${i}`);
  }

  of(channel: string): string {
    return this.names[fnv1a(channel) % this.names.length]!;
  }

  /** Keyed by channel: the producer's partitioner then keeps a channel in one partition, in order. */
  record(channel: string, value: Buffer): KafkaRecord {
    return { topic: this.of(channel), key: channel, value };
  }

  async create(admin: Admin, log: Logger): Promise<void> {
    try {
      await admin.createTopics({ topics: this.names.map((topic) => ({ topic, numPartitions: PARTITIONS_PER_TOPIC })), waitForLeaders: true });
    } catch (err) {
      // Some brokers (and managed clusters) refuse CreateTopics; pre-created topics then work.
      log.warn({ err: (err as Error).message }, "kafka: could not create topics; expecting them to exist");
    }
  }

  /** Where each partition ends now: a node starting now consumes from there (realtime, no replay). */
  async ends(admin: Admin): Promise<TopicPartitionOffset[]> {
    const ends: TopicPartitionOffset[] = [];
    for (const topic of this.names)
      for (const p of await admin.fetchTopicOffsets(topic)) ends.push({ topic, partition: p.partition, offset: p.high });
    return ends;
  }
}
