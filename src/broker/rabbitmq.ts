import { createHash } from "node:crypto";
import { connect, type ChannelModel, type ConfirmChannel, type RecoveringChannelModel } from "amqplib";
import type { Logger } from "pino";
import { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler, ReconnectNotifier } from "./broker.js";
import { PendingBound } from "./pending-bound.js";

/** The bounds, from the config (amqpMaxQueueLength, amqpMaxQueueBytes, amqpMaxPending, amqpMaxPendingBytes). */
export interface RabbitMqBrokerOptions {
  /** Most messages a node's queue holds; past it the oldest are dropped. */
  maxQueueLength: number;
  /** Most message bytes a node's queue holds; past it the oldest are dropped. */
  maxQueueBytes: number;
  /** Most publishes waiting for the socket or a confirm; past it publish fails at once. */
  maxPending: number;
  /** Most payload bytes of those publishes; past it publish fails at once. */
  maxPendingBytes: number;
}

interface Outgoing {
  ch: ConfirmChannel;
  key: string;
  body: Buffer;
  done: (err: Error | null) => void;
}

/** AMQP 0-9-1 carries a routing key as a short string: at most 255 bytes. */
const MAX_ROUTING_KEY = 255;

/**
 * RabbitMQ between nodes: one topic exchange (`<prefix>`), one exclusive auto-delete queue per
 * node bound to the channels it has subscribers in, publisher confirms. Routing keys are
 * `ch.<base64url(channel)>` so no channel name can use the topic wildcards (`*`, `#`, `.`);
 * control messages use `control`. Delivery is at most once (the queue dies with the node, and
 * a queue past its length bound drops its oldest messages); the connection recovers by itself
 * and rebinds what the node wants (a channel the server closes for an error drops the
 * connection, so it starts over the same way). Publishes in flight are bounded: past the bound,
 * or while the server blocks the connection, publish fails at once; those in flight when the
 * connection goes fail then.
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
  /** Set while the server blocks publishers (a memory or disk alarm); holds its reason. */
  private blocked: string | null = null;
  /** Publishes handed to publish() and not yet confirmed or failed. */
  private readonly pending: PendingBound;
  /** The channel's write buffer is full: publishes wait here, in order, for its drain. */
  private writable = true;
  private held: Outgoing[] = [];
  /** Channels amqplib has closed (with their connection; a server-side channel error drops it too). */
  private readonly closedChannels = new WeakSet<ConfirmChannel>();

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly limits: RabbitMqBrokerOptions,
  ) {
    // No idle exemption: the byte bound holds even for one publish on an idle channel, as the
    // queue's own byte bound does.
    this.pending = new PendingBound("rabbitmq", limits.maxPending, limits.maxPendingBytes, false);
  }

  /**
   * Readable keys where they fit; channels whose key would pass the 255-byte limit (longer
   * than 189 characters) go by `h.<base64url(sha256(channel))>` instead. Two channels sharing a
   * key would only cost a wasted delivery: the node looks subscribers up by the channel inside
   * the envelope, never by the key.
   */
  static routingKey(channel: string): string {
    if (channel === "") return "control";
    const key = `ch.${Buffer.from(channel).toString("base64url")}`;
    return key.length <= MAX_ROUTING_KEY ? key : `h.${createHash("sha256").update(channel).digest("base64url")}`;
  }

  /** Bounds each node's queue, so a stalled node cannot make RabbitMQ grow without limit. */
  static queueArguments(opts: Pick<Required<RabbitMqBrokerOptions>, "maxQueueLength" | "maxQueueBytes">): Record<string, unknown> {
    return { "x-max-length": opts.maxQueueLength, "x-max-length-bytes": opts.maxQueueBytes, "x-overflow": "drop-head" };
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
      this.blocked = null;
      this.failHeld(new Error("rabbitmq connection lost before the publish was sent"));
      this.log.warn({ err: err?.message }, "rabbitmq connection lost; reconnecting");
    });
    // A blocked connection takes publishes but the server reads none: confirms would never come.
    this.conn.on("blocked", (reason: string) => {
      this.blocked = reason || "blocked";
      this.log.warn({ reason }, "rabbitmq blocks this connection's publishes");
    });
    this.conn.on("unblocked", () => {
      this.blocked = null;
      this.log.info("rabbitmq unblocked this connection");
    });
    this.conn.on("connect", () => this.log.info("rabbitmq connected"));
    this.conn.on("error", (err: Error) => this.log.debug({ err }, "rabbitmq error"));
  }

  /** Runs after every (re)connection: exchange, this node's queue, its bindings, the consumer. */
  private async setup(model: ChannelModel): Promise<void> {
    // amqplib emits 'error' on the connection when its socket fails, and the recovering wrapper
    // listens only once setup() is done: with nobody listening, a broker that dies (or a
    // socket that fails) while a node (re)connects would throw out of the socket's handler and
    // take the node down, and setup() would wait forever.
    model.on("error", (err: Error) => this.log.debug({ err: err?.message }, "rabbitmq connection error"));
    const ch = await model.createConfirmChannel();
    // A channel closes with its connection, or when the server closes it for an error (say, the
    // exchange was deleted under us). No 'error' listener on purpose: amqplib then treats the
    // server's close as a broken frame and drops the whole connection, so the recovery starts
    // over and redeclares everything, instead of leaving the node with a dead channel.
    ch.on("close", () => this.closedChannels.add(ch));
    await ch.assertExchange(this.prefix, "topic", { durable: true });
    const q = await ch.assertQueue("", { exclusive: true, autoDelete: true, durable: false, arguments: RabbitMqBroker.queueArguments(this.limits) });
    this.queue = q.queue;
    await ch.consume(
      q.queue,
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
    await ch.bindQueue(q.queue, this.prefix, "control");
    // Iterating the set itself, not a copy: a channel subscribed while a bind is in flight (its
    // subscribe() saw no channel and only remembered it) is visited too, and from the end of the
    // loop to `this.ch = ch` nothing else runs, so no subscribe falls in between.
    for (const channel of this.wanted) await ch.bindQueue(q.queue, this.prefix, RabbitMqBroker.routingKey(channel));
    ch.on("drain", () => this.onDrain(ch));
    this.failHeld(new Error("rabbitmq connection lost before the publish was sent"));
    this.writable = true;
    this.ch = ch;
    if (this.setups++ > 0) this.reconnectListeners.forEach((l) => l());
  }

  async publish(envelope: BrokerEnvelope): Promise<void> {
    const ch = this.ch;
    if (!ch) throw new Error("rabbitmq is not connected");
    if (this.blocked !== null) throw new Error(`rabbitmq blocks publishes (${this.blocked})`);
    const body = Buffer.from(BrokerEnvelope.encode(envelope).finish());
    await this.pending.track(
      body.length,
      () =>
        new Promise<void>((resolve, reject) => {
          const out: Outgoing = { ch, key: RabbitMqBroker.routingKey(envelope.channel), body, done: (err) => (err ? reject(err) : resolve()) };
          // Behind held publishes too, or a later publish would overtake them.
          if (this.writable && this.held.length === 0) this.send(out);
          else this.held.push(out);
        }),
    );
  }

  private send(out: Outgoing): void {
    try {
      this.writable = out.ch.publish(this.prefix, out.key, out.body, {}, (err) =>
        out.done(err ? (err instanceof Error ? err : new Error(String(err))) : null),
      );
    } catch (err) {
      // amqplib throws at once on a closed channel.
      out.done(err as Error);
    }
  }

  private onDrain(ch: ConfirmChannel): void {
    if (ch !== this.ch) return;
    this.writable = true;
    while (this.writable && this.held.length > 0) this.send(this.held.shift()!);
  }

  private failHeld(err: Error): void {
    for (const out of this.held.splice(0)) out.done(err);
  }

  async subscribe(channel: string): Promise<void> {
    this.wanted.add(channel);
    // While disconnected the channel is only remembered; setup() binds it on reconnect.
    await this.rebind(RabbitMqBroker.routingKey(channel), true);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    await this.rebind(RabbitMqBroker.routingKey(channel), false);
  }

  private async rebind(key: string, bind: boolean): Promise<void> {
    const ch = this.ch;
    if (!ch) return;
    const queue = this.queue;
    try {
      if (bind) await ch.bindQueue(queue, this.prefix, key);
      else await ch.unbindQueue(queue, this.prefix, key);
    } catch (err) {
      // The channel died under the call (its connection was lost, or the server closed it):
      // the node reconnects, and setup() then binds exactly what is wanted.
      if (!this.closedChannels.has(ch)) throw err;
    }
  }

  healthy(): boolean {
    return this.ch !== null && this.blocked === null;
  }

  async close(): Promise<void> {
    this.handler = null;
    this.ch = null;
    this.failHeld(new Error("rabbitmq broker closed"));
    await this.conn?.close().catch(() => undefined);
    this.conn = null;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:***@");
}
