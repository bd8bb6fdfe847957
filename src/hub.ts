import type { ChannelEvent } from "./channel-event.js";

/**
 * Something on this node that a channel's events are delivered to: a client session, or a
 * backend's Subscribe stream.
 */
export interface Subscriber {
  /** Unique per node. */
  readonly id: string;
  /** Takes an event of a channel it is subscribed to; must not block and must not throw. */
  deliver(event: ChannelEvent): void;
  /**
   * The node lost publications of `channel` that history cannot give back (a broker outage
   * longer than history keeps): the subscriber must resynchronise. Must not throw.
   */
  lost(channel: string): void;
}

/**
 * The local registry of subscriptions: which subscribers on this node are in which channel,
 * and the local fan-out. Not what publishers want: HubNode.publish stores, publishes to the
 * other nodes and then fans out here; fanOut alone reaches this node's subscribers only.
 */
export class Hub {
  private readonly channels = new Map<string, Map<string, Subscriber>>();
  private subscriptions = 0;

  /** `onDeliverError`: told when a subscriber broke its promise not to throw; the others still get the event. */
  constructor(private readonly onDeliverError: (err: unknown, s: Subscriber, channel: string) => void = () => undefined) {}

  /** Returns true when this is the channel's first local subscriber. */
  subscribe(channel: string, s: Subscriber): boolean {
    let subs = this.channels.get(channel);
    const first = !subs;
    if (!subs) this.channels.set(channel, (subs = new Map<string, Subscriber>()));
    if (!subs.has(s.id)) {
      subs.set(s.id, s);
      this.subscriptions++;
    }
    return first;
  }

  /** Returns true when the channel has no local subscriber left. */
  unsubscribe(channel: string, s: Subscriber): boolean {
    const subs = this.channels.get(channel);
    if (!subs || !subs.delete(s.id)) return false;
    this.subscriptions--;
    if (subs.size > 0) return false;
    this.channels.delete(channel);
    return true;
  }

  /** Hands the same event to every local subscriber of its channel; returns how many. */
  fanOut(event: ChannelEvent): number {
    const subs = this.channels.get(event.channel);
    if (!subs) return 0;
    for (const s of subs.values()) {
      try {
        s.deliver(event);
      } catch (err) {
        this.onDeliverError(err, s, event.channel);
      }
    }
    return subs.size;
  }

  subscribersOf(channel: string): Subscriber[] {
    return [...(this.channels.get(channel)?.values() ?? [])];
  }

  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** How many local subscribers `channel` has. */
  numSubscribers(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  channelNames(): IterableIterator<string> {
    return this.channels.keys();
  }

  stats(): { channels: number; subscriptions: number } {
    return { channels: this.channels.size, subscriptions: this.subscriptions };
  }
}
