import { connect, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from "amqplib";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler, ReconnectNotifier } from "./broker.js";

/**
 * RabbitMQ between nodes: one topic exchange (`<prefix>`), one exclusive auto-delete queue per
 * node bound to the channels it has subscribers in, publisher confirms. Routing keys are
 * `ch.<base64url(channel)>` so no channel name can use the topic wildcards (`*`, `#`, `.`);
 * control messages use `control`. Delivery is at most once (the queue dies with the node);
 * the connection recovers by itself and rebinds what the node wants.
 */
export class RabbitMqBroker implements Broker, ReconnectNotifier {
  readonly kind = "rabbitmq";
  private conn: RecoveringChannelModel | null = null;
  private ch: ConfirmChannel | null = null;
  private queue = "";
  private handler: EnvelopeHandler | null = null;
  private readonly wanted = new Set<string>();
  private readonly reconnectListeners: Array<() => void> = [];
  private setups = 0;

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  static routingKey(channel: string): string {
    return channel === "" ? "control" : `ch.${Buffer.from(channel).toString("base64url")}`;
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    this.handler = handler;
    try {
      this.conn = await connect(this.url, {
        recovery: { initialDelay: 200, maxDelay: 3000, initialMaxRetries: 2, setup: (m: ChannelModel) => this.setup(m) },
      });
    } catch (err) {
      throw new Error(`amqpUrl ${redact(this.url)}: cannot connect: ${(err as Error).message}`, { cause: err });
    }
    this.conn.on("disconnect", (err: Error) => {
      this.ch = null;
      this.log.warn({ err: err?.message }, "rabbitmq connection lost; reconnecting");
    });
    this.conn.on("connect", () => this.log.info("rabbitmq connected"));
    this.conn.on("error", (err: Error) => this.log.debug({ err }, "rabbitmq error"));
  }

  /** Runs after every (re)connection: exchange, this node's queue, its bindings, the consumer. */
  private async setup(model: ChannelModel): Promise<void> {
    const ch = await model.createConfirmChannel();
    await ch.assertExchange(this.prefix, "topic", { durable: true });
    const q = await ch.assertQueue("", { exclusive: true, autoDelete: true, durable: false });
    this.queue = q.queue;
    for (const key of ["control", ...[...this.wanted].map((c) => RabbitMqBroker.routingKey(c))])
      await ch.bindQueue(this.queue, this.prefix, key);
    await ch.consume(
      this.queue,
      (msg) => {
        if (!msg) return;
        try {
          this.handler?.(BrokerEnvelope.decode(msg.content));
        } catch (err) {
          this.log.warn({ err }, "undecodable broker message dropped");
        }
      },
      { noAck: true },
    );
    this.ch = ch;
    if (this.setups++ > 0) this.reconnectListeners.forEach((l) => l());
  }

  async publish(envelope: BrokerEnvelope): Promise<void> {
    const ch = this.ch;
    if (!ch) throw new Error("rabbitmq is not connected");
    const body = Buffer.from(BrokerEnvelope.encode(envelope).finish());
    await new Promise<void>((resolve, reject) =>
      ch.publish(this.prefix, RabbitMqBroker.routingKey(envelope.channel), body, {}, (err) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      ),
    );
  }

  async subscribe(channel: string): Promise<void> {
    this.wanted.add(channel);
    // While disconnected the channel is only remembered; setup() binds it on reconnect.
    await this.ch?.bindQueue(this.queue, this.prefix, RabbitMqBroker.routingKey(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    await this.ch?.unbindQueue(this.queue, this.prefix, RabbitMqBroker.routingKey(channel));
  }

  healthy(): boolean {
    return this.ch !== null;
  }

  async close(): Promise<void> {
    this.handler = null;
    this.ch = null;
    await this.conn?.close().catch(() => undefined);
    this.conn = null;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:***@");
}
