import { connect, Events, type NatsConnection, type Subscription } from "nats";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler, ReconnectNotifier } from "./broker.js";
import { PendingBound } from "./pending-bound.js";

/** The bounds, from the config (natsMaxPending, natsMaxPendingBytes). */
export interface NatsBrokerLimits {
  /** Most publishes not yet confirmed by a flush round trip; past it publish fails at once. */
  maxPending: number;
  /** Most bytes (subject + payload) of those publishes; past it publish fails at once. */
  maxPendingBytes: number;
}

/** A flush is sent once this fraction of a limit is published since the last one. */
const FLUSH_EVERY = 1 / 8;

/**
 * Core NATS subjects between nodes. A channel becomes one subject token, base64url-encoded
 * (`<prefix>.ch.<token>`), so no channel name can inject wildcards (`*`, `>`) or split into
 * tokens (`.`); control messages go to `<prefix>.control`.
 *
 * NATS core guarantees at-most-once delivery and order per publisher connection per subject;
 * it keeps nothing for a node that is disconnected (history in Redis makes gaps visible).
 * While disconnected, publish fails at once: nats.js would otherwise append to its outbound
 * buffer without limit and drop that buffer at the next connect attempt, so the publish
 * would look successful and still be lost.
 *
 * While connected to a server that is slow to read, nats.js would also grow that buffer (and
 * the socket's) without limit: core publish has no acknowledgement. What the server has read
 * is known from a flush (PING, answered by PONG once the server has processed everything sent
 * before it): the broker sends one whenever an eighth of a limit has been published since the
 * last, one at a time, and counts a publish as pending until a flush sent after it completes.
 * Past `maxPending` publishes or `maxPendingBytes` publish fails at once with
 * PublishBacklogFull, until the flush in flight comes back. nats.js itself declares a server
 * that answers no ping for `maxPingOut` ping intervals stale and reconnects, which fails the
 * flush and frees what it covered (nats.js drops its buffer then).
 *
 * Subjects have no small length limit: a subject only has to fit the server's control line
 * (`max_control_line`, 4 KiB by default), and the longest channel (255 characters) encodes
 * into 340.
 */
export class NatsBroker implements Broker, ReconnectNotifier {
  readonly kind = "nats";
  private nc: NatsConnection | null = null;
  private handler: EnvelopeHandler | null = null;
  private readonly subs = new Map<string, Subscription>();
  private connected = false;
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly bound: PendingBound;
  /** Published since the last flush was sent: pending until a later flush completes. */
  private unflushed = { count: 0, bytes: 0 };
  private flushing = false;
  private readonly flushCount: number;
  private readonly flushBytes: number;

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly log: Logger,
    limits: NatsBrokerLimits,
  ) {
    this.bound = new PendingBound("nats", limits.maxPending, limits.maxPendingBytes);
    this.flushCount = Math.max(1, Math.floor(this.bound.maxCount * FLUSH_EVERY));
    this.flushBytes = Math.max(1, Math.floor(this.bound.maxBytes * FLUSH_EVERY));
  }

  static subject(prefix: string, channel: string): string {
    return channel === "" ? `${prefix}.control` : `${prefix}.ch.${Buffer.from(channel).toString("base64url")}`;
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    this.handler = handler;
    try {
      this.nc = await connect({
        servers: this.url,
        name: "realtime-hub",
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        pingInterval: 10_000,
      });
    } catch (err) {
      throw new Error(`natsUrl ${this.url}: cannot connect: ${(err as Error).message}`, { cause: err });
    }
    this.connected = true;
    void this.watchStatus(this.nc);
    this.listen("");
    await this.nc.flush();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        this.connected = false;
        // nats.js drops its outbound buffer on reconnecting: what no flush covers is gone.
        this.bound.release(this.unflushed.count, this.unflushed.bytes);
        this.unflushed = { count: 0, bytes: 0 };
        this.log.warn("nats connection lost; reconnecting");
      } else if (s.type === Events.Reconnect) {
        this.connected = true;
        this.log.info("nats reconnected");
        this.reconnectListeners.forEach((l) => l());
      }
    }
  }

  private listen(channel: string): void {
    if (!this.nc || this.subs.has(channel)) return;
    const sub = this.nc.subscribe(NatsBroker.subject(this.prefix, channel), {
      callback: (err, msg) => {
        if (err) return this.log.warn({ err, channel }, "nats subscription error");
        let env: BrokerEnvelope;
        try {
          env = BrokerEnvelope.decode(msg.data);
        } catch (e) {
          return this.log.warn({ err: e, channel }, "undecodable broker message dropped");
        }
        this.handler?.(env);
      },
    });
    this.subs.set(channel, sub);
  }

  async publish(envelope: BrokerEnvelope): Promise<void> {
    if (!this.nc) throw new Error("nats broker not started");
    if (!this.connected) throw new Error("nats is not connected: publish not sent");
    const subject = NatsBroker.subject(this.prefix, envelope.channel);
    const data = BrokerEnvelope.encode(envelope).finish();
    const bytes = subject.length + data.length;
    this.bound.acquire(bytes);
    try {
      this.nc.publish(subject, data);
    } catch (err) {
      this.bound.release(1, bytes);
      throw err;
    }
    this.unflushed.count++;
    this.unflushed.bytes += bytes;
    this.maybeFlush();
  }

  /**
   * Sends a flush when enough was published since the last one and none is in flight; its
   * completion (or failure: the connection dropped) frees what was published before it.
   */
  private maybeFlush(): void {
    const nc = this.nc;
    if (!nc || this.flushing || !this.connected) return;
    if (this.unflushed.count < this.flushCount && this.unflushed.bytes < this.flushBytes) return;
    const covered = this.unflushed;
    this.unflushed = { count: 0, bytes: 0 };
    this.flushing = true;
    const done = () => {
      this.bound.release(covered.count, covered.bytes);
      this.flushing = false;
      this.maybeFlush();
    };
    // Through a promise, so even a flush that threw synchronously frees what it covered.
    Promise.resolve()
      .then(() => nc.flush())
      .then(done, done);
  }

  /** Publishes not yet covered by a completed flush, and their bytes. */
  pendingPublishes(): { count: number; bytes: number } {
    return this.bound.pending();
  }

  async subscribe(channel: string): Promise<void> {
    this.listen(channel);
    // The SUB is in place once the server answered a ping sent after it: a publish racing
    // this subscribe must not be missed. (While disconnected, nats.js resubscribes itself.)
    if (this.connected) await this.nc?.flush();
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subs.get(channel)?.unsubscribe();
    this.subs.delete(channel);
  }

  healthy(): boolean {
    return this.connected && !!this.nc && !this.nc.isClosed();
  }

  async close(): Promise<void> {
    this.handler = null;
    const nc = this.nc;
    this.nc = null;
    this.subs.clear();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}
