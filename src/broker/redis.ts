import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { StreamPosition } from "../gen/realtime/v1/types.js";
import type { HistoryOptions } from "../history/history-store.js";
import { appendScript, encodeStored, RedisHistoryStore } from "../history/redis.js";
import type { Broker, EnvelopeHandler, HistoryPublisher, ReconnectNotifier } from "./broker.js";
import { PendingBound } from "./pending-bound.js";

/** The bounds, from the config (redisMaxPending, redisMaxPendingBytes). */
export interface RedisBrokerLimits {
  /** Most publishes sent and not yet answered by Redis; past it publish fails at once. */
  maxPending: number;
  /** Most bytes of those publishes; past it publish fails at once. */
  maxPendingBytes: number;
}

const COLON = 0x3a;
/** Offset and epoch of a plain publish: none (the channel keeps no history). */
const HEAD = Buffer.from("0::");

/**
 * Redis pub/sub between nodes. Each message is `<offset>:<epoch>:<BrokerEnvelope bytes>`:
 * the history script fills offset and epoch in while publishing, so the envelope itself is
 * encoded once, before the offset is known. Pub/sub channels: `<prefix>.ch.<channel>` per
 * hub channel, `<prefix>.control` for cluster-wide commands.
 *
 * Delivery is at most once: while a node is disconnected from Redis it misses messages;
 * history (recovery) is what makes that visible to clients.
 *
 * While disconnected, publishes fail at once (the connection has no offline queue). While
 * connected to a server that is slow to read, ioredis would write every command to its socket
 * and keep it until answered, without limit; so both publish paths (plain PUBLISH for channels
 * without history, the history script for the others) count what is unanswered, and past
 * `maxPending` publishes or `maxPendingBytes` fail at once with PublishBacklogFull.
 */
export class RedisBroker implements Broker, HistoryPublisher, ReconnectNotifier {
  readonly kind = "redis";
  private handler: EnvelopeHandler | null = null;
  /** Channels this node wants; resubscribed on every reconnect. */
  private readonly wanted = new Set<string>();
  private readonly controlChannel: string;
  private readonly history: RedisHistoryStore;
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly bound: PendingBound;
  private onReady = () => {
    void this.resubscribe().then(() => this.reconnectListeners.forEach((l) => l()));
  };

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    limits: RedisBrokerLimits,
  ) {
    this.bound = new PendingBound("redis", limits.maxPending, limits.maxPendingBytes);
    this.controlChannel = `${prefix}.control`;
    this.history = new RedisHistoryStore(pub, prefix);
  }

  private topic(channel: string): string {
    return channel === "" ? this.controlChannel : `${this.prefix}.ch.${channel}`;
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    this.handler = handler;
    const prefixLen = `${this.prefix}.ch.`.length;
    this.sub.on("messageBuffer", (topic: Buffer, message: Buffer) => {
      const t = topic.toString();
      const channel = t === this.controlChannel ? "" : t.slice(prefixLen);
      this.receive(channel, message);
    });
    this.sub.on("ready", this.onReady);
    await this.sub.subscribe(this.controlChannel);
  }

  private receive(channel: string, message: Buffer): void {
    const a = message.indexOf(COLON);
    const b = a < 0 ? -1 : message.indexOf(COLON, a + 1);
    if (b < 0) return this.log.warn({ channel }, "malformed broker message dropped");
    let env: BrokerEnvelope;
    try {
      env = BrokerEnvelope.decode(message.subarray(b + 1));
    } catch (err) {
      return this.log.warn({ err, channel }, "undecodable broker message dropped");
    }
    if (env.publication && a > 0) {
      env.publication.offset = message.subarray(0, a).toString();
      env.publication.epoch = message.subarray(a + 1, b).toString();
    }
    this.handler?.(env);
  }

  async publish(envelope: BrokerEnvelope): Promise<void> {
    const message = Buffer.concat([HEAD, BrokerEnvelope.encode(envelope).finish()]);
    const topic = this.topic(envelope.channel);
    await this.bound.track(message.length, () => this.pub.publish(topic, message));
  }

  async publishWithHistory(envelope: BrokerEnvelope, opts: HistoryOptions): Promise<StreamPosition> {
    const pub = envelope.publication!;
    const body = Buffer.from(BrokerEnvelope.encode(envelope).finish());
    const stored = encodeStored(pub);
    const keys = this.history.keys(envelope.channel);
    const args = [stored, opts.size, Math.max(1, Math.ceil(opts.ttlSeconds)), randomBytes(4).toString("hex"), this.topic(envelope.channel), body];
    const r = (await this.bound.track(stored.length + body.length, () => appendScript.run(this.pub, keys, args))) as [number, string];
    pub.offset = String(r[0]);
    pub.epoch = r[1];
    return { offset: pub.offset, epoch: pub.epoch };
  }

  async subscribe(channel: string): Promise<void> {
    this.wanted.add(channel);
    // While Redis is down the channel is only remembered; 'ready' subscribes it.
    if (this.sub.status === "ready") await this.sub.subscribe(this.topic(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    if (this.sub.status === "ready") await this.sub.unsubscribe(this.topic(channel));
  }

  private async resubscribe(): Promise<void> {
    const topics = [this.controlChannel, ...[...this.wanted].map((c) => this.topic(c))];
    try {
      for (let i = 0; i < topics.length; i += 1000) await this.sub.subscribe(...topics.slice(i, i + 1000));
    } catch (err) {
      this.log.warn({ err }, "resubscribe after reconnect failed; will retry on the next reconnect");
    }
  }

  /** Publishes sent and not yet answered by Redis, and their bytes. */
  pendingPublishes(): { count: number; bytes: number } {
    return this.bound.pending();
  }

  healthy(): boolean {
    return this.pub.status === "ready" && this.sub.status === "ready";
  }

  async close(): Promise<void> {
    this.handler = null;
    this.sub.off("ready", this.onReady);
  }
}
