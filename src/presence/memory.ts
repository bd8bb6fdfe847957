import type { ClientInfo } from "../gen/realtime/v1/types.js";
import type { PresenceStats, PresenceStore } from "./presence-store.js";

interface Entry {
  info: ClientInfo;
  expiresAt: number;
}

/** Presence in this process's memory; expired entries are swept lazily and periodically. */
export class MemoryPresenceStore implements PresenceStore {
  readonly kind = "memory";
  /** Each node holds its own: every node erases it. */
  readonly shared = false;
  private readonly channels = new Map<string, Map<string, Entry>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly now: () => number = Date.now,
    sweepIntervalMs = 10_000,
  ) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async add(channel: string, info: ClientInfo, ttlSeconds: number): Promise<void> {
    let entries = this.channels.get(channel);
    if (!entries) this.channels.set(channel, (entries = new Map<string, Entry>()));
    entries.set(info.client, { info, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async remove(channel: string, clientId: string): Promise<void> {
    const entries = this.channels.get(channel);
    if (!entries) return;
    entries.delete(clientId);
    if (entries.size === 0) this.channels.delete(channel);
  }

  async get(channel: string): Promise<Record<string, ClientInfo>> {
    const out: Record<string, ClientInfo> = {};
    for (const [id, e] of this.live(channel)) out[id] = e.info;
    return out;
  }

  async stats(channel: string): Promise<PresenceStats> {
    const users = new Set<string>();
    let numClients = 0;
    for (const [, e] of this.live(channel)) {
      numClients++;
      users.add(e.info.user);
    }
    return { numClients, numUsers: users.size };
  }

  async eraseUser(user: string): Promise<Map<string, number>> {
    const removed = new Map<string, number>();
    for (const channel of [...this.channels.keys()]) {
      let n = 0;
      for (const [id, e] of this.live(channel))
        if (e.info.user === user) {
          this.channels.get(channel)?.delete(id);
          n++;
        }
      if (this.channels.get(channel)?.size === 0) this.channels.delete(channel);
      if (n > 0) removed.set(channel, n);
    }
    return removed;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.channels.clear();
  }

  private *live(channel: string): Generator<[string, Entry]> {
    const entries = this.channels.get(channel);
    if (!entries) return;
    const now = this.now();
    for (const [id, e] of entries) {
      if (e.expiresAt > now) yield [id, e];
      else entries.delete(id);
    }
    if (entries.size === 0) this.channels.delete(channel);
  }

  private sweep(): void {
    for (const channel of [...this.channels.keys()]) for (const _ of this.live(channel));
  }
}
