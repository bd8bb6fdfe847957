import type { ChannelRules } from "./channel.js";
import type { NamespaceOptions } from "./config.js";
import { errNotAvailable } from "./errors.js";
import type { ClientInfo, StreamPosition } from "./gen/realtime/v1/types.js";
import type { HistoryStore, ReadOptions, ReadResult } from "./history/history-store.js";
import { recoveryFrom, type Recovery } from "./history/recovery.js";
import type { PresenceStore, PresenceStats } from "./presence/presence-store.js";

/** The position of a channel without history: nothing to recover from. */
export const NO_POSITION: StreamPosition = { offset: "0", epoch: "" };

/**
 * What the stores hold of a channel, for client commands, the server API and subscribes. Every
 * read checks the channel name first, so an invalid one never reaches a store; a read of what the
 * namespace does not keep is refused (not available) rather than answered empty.
 */
export class ChannelReads {
  constructor(
    private readonly rules: ChannelRules,
    private readonly presenceStore: PresenceStore,
    private readonly historyStore: HistoryStore,
  ) {}

  async presence(channel: string): Promise<Record<string, ClientInfo>> {
    if (!this.rules.options(channel).presence) throw errNotAvailable(`presence is off for ${JSON.stringify(channel)}`);
    return this.presenceStore.get(channel);
  }

  async presenceStats(channel: string): Promise<PresenceStats> {
    if (!this.rules.options(channel).presence) throw errNotAvailable(`presence is off for ${JSON.stringify(channel)}`);
    return this.presenceStore.stats(channel);
  }

  async history(channel: string, opts: ReadOptions): Promise<ReadResult> {
    if (this.rules.options(channel).historySize <= 0)
      throw errNotAvailable(`history is off for ${JSON.stringify(channel)}`);
    return this.historyStore.read(channel, opts);
  }

  /**
   * What history holds of `channel` after `since`, and whether it continues `since` without a
   * gap (recoveryFrom): for a client subscribing with recovery and for gap fills alike.
   */
  async recover(channel: string, since: StreamPosition): Promise<Recovery> {
    const ns = this.rules.options(channel);
    const r = await this.historyStore.read(channel, { since, limit: ns.historySize, ttlSeconds: ns.historyTtlSeconds });
    return recoveryFrom(r, since);
  }

  /** Stream position without reading publications (for subscribe without recovery). */
  async position(channel: string, ns: NamespaceOptions): Promise<StreamPosition> {
    if (ns.historySize <= 0) return NO_POSITION;
    return (await this.historyStore.read(channel, { limit: 0, ttlSeconds: ns.historyTtlSeconds })).position;
  }

  async historyRemove(channel: string): Promise<void> {
    this.rules.options(channel);
    await this.historyStore.remove(channel);
  }
}
