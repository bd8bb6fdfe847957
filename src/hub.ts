import type { Frame } from "./transport/frame.js";

/** A local subscriber: something on this node that frames of a channel are written to. */
export interface Subscriber {
  /** Unique per node (the session's client id). */
  readonly id: string;
  readonly user: string;
  /** Writes a frame of `channel`; must not block and must not throw. */
  deliver(channel: string, frame: Frame): void;
}

/** The local registry: which subscribers on this node are in which channel. */
export class Hub {
  /** `onDeliverError`: told when a subscriber broke its promise not to throw; the others still get the frame. */
  constructor(private readonly onDeliverError: (err: unknown, s: Subscriber, channel: string) => void = () => undefined) {}

  private readonly channels = new Map<string, Map<string, Subscriber>>();
  private readonly sessions = new Map<string, Subscriber>();
  private readonly byUser = new Map<string, Set<string>>();
  private subscriptions = 0;

  /** Registers a connected session (for Disconnect/Unsubscribe by user). */
  addSession(s: Subscriber): void {
    this.sessions.set(s.id, s);
    let ids = this.byUser.get(s.user);
    if (!ids) this.byUser.set(s.user, (ids = new Set()));
    ids.add(s.id);
  }

  removeSession(s: Subscriber): void {
    this.sessions.delete(s.id);
    const ids = this.byUser.get(s.user);
    if (ids) {
      ids.delete(s.id);
      if (ids.size === 0) this.byUser.delete(s.user);
    }
  }

  /** Returns true when this is the channel's first local subscriber. */
  subscribe(channel: string, s: Subscriber): boolean {
    let subs = this.channels.get(channel);
    const first = !subs;
    if (!subs) this.channels.set(channel, (subs = new Map()));
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

  /** Writes the same frame to every local subscriber of `channel`; returns how many. */
  broadcast(channel: string, frame: Frame): number {
    const subs = this.channels.get(channel);
    if (!subs) return 0;
    for (const s of subs.values()) {
      try {
        s.deliver(channel, frame);
      } catch (err) {
        this.onDeliverError(err, s, channel);
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

  subscribers(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  channelNames(): IterableIterator<string> {
    return this.channels.keys();
  }

  sessionsOf(user: string): Subscriber[] {
    const ids = this.byUser.get(user);
    if (!ids) return [];
    return [...ids].map((id) => this.sessions.get(id)!).filter(Boolean);
  }

  session(id: string): Subscriber | undefined {
    return this.sessions.get(id);
  }

  allSessions(): IterableIterator<Subscriber> {
    return this.sessions.values();
  }

  stats(): { clients: number; users: number; channels: number; subscriptions: number } {
    return {
      clients: this.sessions.size,
      users: this.byUser.size,
      channels: this.channels.size,
      subscriptions: this.subscriptions,
    };
  }
}
