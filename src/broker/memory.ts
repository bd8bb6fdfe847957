import type { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { Broker, EnvelopeHandler } from "./broker.js";

/**
 * A bus that memory brokers share. Nodes in one process (tests, embedded use) join the same
 * bus to form a cluster; by default each broker has its own.
 */
export class MemoryBus {
  private readonly members = new Set<MemoryBroker>();

  join(b: MemoryBroker): void {
    this.members.add(b);
  }

  leave(b: MemoryBroker): void {
    this.members.delete(b);
  }

  /** Counts publishes, so tests can prove nothing is published twice. */
  published = 0;

  publish(env: BrokerEnvelope): void {
    this.published++;
    for (const m of this.members) m.receive(env);
  }
}

/** The embedded default broker: delivery inside one process, no external service. */
export class MemoryBroker implements Broker {
  readonly kind = "memory";
  private handler: EnvelopeHandler | null = null;
  private readonly channels = new Set<string>();

  constructor(private readonly bus: MemoryBus = new MemoryBus()) {}

  async start(handler: EnvelopeHandler): Promise<void> {
    this.handler = handler;
    this.bus.join(this);
  }

  async publish(envelope: BrokerEnvelope): Promise<void> {
    // Delivered on a later tick, like a network broker: a publisher never re-enters its own
    // delivery path synchronously.
    queueMicrotask(() => this.bus.publish(envelope));
  }

  receive(env: BrokerEnvelope): void {
    if (!this.handler) return;
    if (env.channel !== "" && !this.channels.has(env.channel)) return;
    this.handler(env);
  }

  async subscribe(channel: string): Promise<void> {
    this.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  healthy(): boolean {
    return this.handler !== null;
  }

  async close(): Promise<void> {
    this.bus.leave(this);
    this.handler = null;
  }
}
