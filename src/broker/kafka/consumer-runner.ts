import type { Consumer, Kafka, TopicPartitionOffset } from "kafkajs";
import type { Logger } from "pino";

export interface KafkaConsumerOptions {
  groupId: string;
  topics: readonly string[];
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

/** The consumer's long poll: how long a fetch waits for data when there is none. */
const FETCH_MAX_WAIT_MS = 100;

/** First delay before recreating a consumer kafkajs gave up on; it doubles up to the max. */
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 30_000;

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

/**
 * Keeps this node consuming every topic in its own group, for good: it recreates a consumer
 * kafkajs gave up on, commits only what was delivered (so any restart resumes after it), and
 * has the node fill from history after an outage. Why two fills after a rejoin: docs/cluster.md#kafka.
 */
export class KafkaConsumerRunner {
  /** The consumer now; a recreated one replaces it, and events of the old one are stale. */
  private consumer: Consumer;
  private up = false;
  private closed = false;
  /** Where each partition resumes if the consumer has to be recreated: after what it delivered. */
  private readonly resumeAt = new Map<string, TopicPartitionOffset>();
  private restartTimer: NodeJS.Timeout | undefined;
  private restartAttempts = 0;
  /** The consumer joined its group once: any later join follows an outage, a rebalance or a restart. */
  private joined = false;
  /** Rejoined: the next fetch has the node fill (and schedules the second fill). */
  private fillOnFetch = false;
  /** Partitions assigned to the consumer at its last join. */
  private assignedPartitions = 0;
  /** The second fill after a rejoin, once the consumer's offsets have settled. */
  private settleFillTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: KafkaConsumerOptions,
    private readonly log: Logger,
    /** Must not throw: kafkajs stops for good a consumer whose eachBatch threw a TypeError. */
    private readonly deliver: (value: Buffer, topic: string) => void,
    /** Tells the node to fill from history what it missed. */
    private readonly fill: (why: string) => void,
  ) {
    this.consumer = this.create();
  }

  /** Joins the group: part of the broker's start, so a cluster that is not there fails it. */
  connect(): Promise<void> {
    return this.subscribe(this.consumer);
  }

  /** Starts consuming from `from` (the partitions' ends at the node's start). */
  async run(from: TopicPartitionOffset[]): Promise<void> {
    for (const l of from) this.resumeAt.set(`${l.topic}:${l.partition}`, l);
    await this.runFrom(this.consumer, from);
  }

  /** False while the consumer is out of its group. */
  healthy(): boolean {
    return this.up;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.settleFillTimer);
    await this.consumer.disconnect();
  }

  private create(): Consumer {
    const c = this.kafka.consumer({
      groupId: this.opts.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs,
      heartbeatInterval: this.opts.heartbeatIntervalMs,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 3000 },
    });
    c.on(c.events.GROUP_JOIN, (e) => {
      if (c !== this.consumer) return;
      this.assignedPartitions = Object.values(e.payload.memberAssignment ?? {}).reduce((n, ps) => n + ps.length, 0);
      this.up = true;
      this.restartAttempts = 0;
      if (this.joined) this.fillOnFetch = true;
      this.joined = true;
    });
    c.on(c.events.FETCH, () => {
      if (c !== this.consumer || !this.fillOnFetch) return;
      this.fillOnFetch = false;
      this.fill("the consumer fetches again after rejoining its group");
      // This fetch may have failed (FETCH comes anyway) before the offsets were resolved:
      // fill again once they have settled. A later rejoin starts the wait again.
      clearTimeout(this.settleFillTimer);
      this.settleFillTimer = setTimeout(() => {
        this.settleFillTimer = undefined;
        this.fill("the consumer's offsets settled after rejoining its group");
      }, settleFillDelayMs(this.assignedPartitions));
      this.settleFillTimer.unref();
    });
    c.on(c.events.CRASH, (e) => {
      if (c !== this.consumer) return;
      this.up = false;
      if (e.payload.restart) {
        this.log.warn({ err: e.payload.error }, "kafka consumer crashed; kafkajs restarts it");
        return;
      }
      // kafkajs does not restart after a non-retriable error: without this the node would
      // silently stop receiving from the cluster for good.
      this.log.error({ err: e.payload.error }, "kafka consumer crashed and kafkajs gave up; recreating it");
      this.scheduleRestart();
    });
    return c;
  }

  private async subscribe(c: Consumer): Promise<void> {
    await c.connect();
    await c.subscribe({ topics: [...this.opts.topics], fromBeginning: false });
  }

  private scheduleRestart(): void {
    if (this.closed || this.restartTimer) return;
    const delay = Math.min(RESTART_DELAY_MS * 2 ** this.restartAttempts++, RESTART_DELAY_MAX_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
    this.restartTimer.unref();
  }

  private async restart(): Promise<void> {
    const old = this.consumer;
    this.consumer = this.create();
    await old.disconnect().catch(() => undefined);
    if (this.closed) return;
    try {
      await this.subscribe(this.consumer);
      await this.runFrom(this.consumer, [...this.resumeAt.values()]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "kafka consumer restart failed; trying again");
      this.scheduleRestart();
    }
  }

  private async runFrom(c: Consumer, from: TopicPartitionOffset[]): Promise<void> {
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // kafkajs hands these as closures over the batch, not methods: taking them apart is safe.
      // eslint-disable-next-line @typescript-eslint/unbound-method
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
}
