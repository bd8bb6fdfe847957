import type { Logger } from "pino";
import type { Clock, Timer } from "./clock.js";
import type { ClientInfo } from "./gen/realtime/v1/types.js";
import type { PresenceStore } from "./presence/presence-store.js";

/**
 * This node's clients in the presence store: added on join, removed on leave, and refreshed
 * before their TTL runs out for as long as they stay, so entries of a node that died expire.
 */
export class PresenceKeeper {
  private readonly local = new Map<string, Map<string, ClientInfo>>();
  private timer: Timer | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  start(): void {
    // Three refreshes per TTL, so one slow or failed round does not let entries lapse.
    this.timer = this.clock.setInterval(() => void this.refresh(), (this.ttlSeconds * 1000) / 3);
  }

  stop(): void {
    this.clock.clear(this.timer);
  }

  async add(channel: string, info: ClientInfo): Promise<void> {
    let entries = this.local.get(channel);
    if (!entries) this.local.set(channel, (entries = new Map<string, ClientInfo>()));
    entries.set(info.client, info);
    await this.store.add(channel, info, this.ttlSeconds);
  }

  async remove(channel: string, client: string): Promise<void> {
    const entries = this.local.get(channel);
    if (entries) {
      entries.delete(client);
      if (entries.size === 0) this.local.delete(channel);
    }
    await this.store.remove(channel, client);
  }

  private async refresh(): Promise<void> {
    try {
      for (const [channel, entries] of this.local)
        for (const info of entries.values()) await this.store.add(channel, info, this.ttlSeconds);
    } catch (err) {
      this.log.warn({ err }, "presence refresh failed; will retry");
    }
  }
}
