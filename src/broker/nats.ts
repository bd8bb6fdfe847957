import { connect, type NatsConnection, type Subscription } from "nats";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler, ReconnectNotifier } from "./broker.js";

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

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

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
      if (s.type === "disconnect") {
        this.connected = false;
        this.log.warn("nats connection lost; reconnecting");
      } else if (s.type === "reconnect") {
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
    this.nc.publish(NatsBroker.subject(this.prefix, envelope.channel), BrokerEnvelope.encode(envelope).finish());
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
