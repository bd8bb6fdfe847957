import type { Logger } from "pino";
import type { Clock, Timer } from "./clock.js";
import { Disconnect, HubError } from "./errors.js";
import { DisconnectCode, ErrorCode } from "./gen/realtime/v1/types.js";
import type { NodeCounters } from "./node-counters.js";
import type { UserConnectionStore } from "./user-connections/user-connection-store.js";

/** How a connect past the cap is told: the connect's error, then the close. */
export interface UserLimitRefusal {
  error: HubError;
  disconnect: Disconnect;
}

/**
 * `maxConnectionsPerUser` (0: no cap). This node's connections of each user are counted here;
 * with a store (presence in Redis) the count is the cluster's, and this node refreshes its
 * entries before their TTL runs out for as long as they stay, so a node that died stops
 * counting after the TTL. Anonymous connections (no user) are not counted.
 */
export class UserConnectionLimit {
  /** This node's slots: user -> client ids, from acquire() to release(). */
  private readonly held = new Map<string, Set<string>>();
  private readonly refusal: UserLimitRefusal;
  private readonly removing = new Set<Promise<void>>();
  private timer: Timer | undefined;

  constructor(
    private readonly max: number,
    private readonly store: UserConnectionStore | undefined,
    private readonly ttlSeconds: number,
    private readonly counters: NodeCounters,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    // Not temporary: the same user's next try fails the same way until one of theirs closes.
    this.refusal = {
      error: new HubError(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, `too many connections of this user (maxConnectionsPerUser ${max})`),
      disconnect: new Disconnect(DisconnectCode.DISCONNECT_CODE_CONNECTION_LIMIT, "too many connections of this user"),
    };
  }

  start(): void {
    if (this.max <= 0 || !this.store) return;
    // Three refreshes per TTL, so one slow or failed round does not let entries lapse.
    this.timer = this.clock.setInterval(() => void this.refresh(), (this.ttlSeconds * 1000) / 3);
  }

  /** Stops refreshing and waits for the removals under way (the store is closed after). */
  async stop(): Promise<void> {
    this.clock.clear(this.timer);
    await Promise.allSettled([...this.removing]);
  }

  /** A slot for `client` of `user`, or how to refuse it. Give it back with release(). */
  async acquire(user: string, client: string): Promise<UserLimitRefusal | undefined> {
    if (this.max <= 0 || !user) return undefined;
    let mine = this.held.get(user);
    // This node's own count first: it needs no round trip and counts connects still under way.
    if (mine && mine.size >= this.max) return this.refuse();
    if (!mine) this.held.set(user, (mine = new Set()));
    mine.add(client);
    if (!this.store) return undefined;
    try {
      if (await this.store.tryAdd(user, client, this.max, this.ttlSeconds)) return undefined;
    } catch (err) {
      // Fail open: the cap guards against abuse, it does not authenticate, and a Redis outage
      // must not refuse every connect. The next refresh adds the entry.
      this.log.warn({ err, user }, "maxConnectionsPerUser: the cluster count is unavailable; counted on this node only");
      return undefined;
    }
    this.drop(user, client);
    return this.refuse();
  }

  /** Gives back the slot of `client` (nothing when it holds none). */
  release(user: string, client: string): void {
    if (!this.drop(user, client) || !this.store) return;
    const p = this.store
      .remove(user, client)
      .catch((err: unknown) => this.log.warn({ err, user }, "maxConnectionsPerUser: removing a connection failed; it expires by itself"))
      .finally(() => this.removing.delete(p));
    this.removing.add(p);
  }

  private refuse(): UserLimitRefusal {
    this.counters.limitRefusals.connections_per_user++;
    return this.refusal;
  }

  private drop(user: string, client: string): boolean {
    const mine = this.held.get(user);
    if (!mine?.delete(client)) return false;
    if (mine.size === 0) this.held.delete(user);
    return true;
  }

  private async refresh(): Promise<void> {
    try {
      for (const [user, clients] of this.held) await this.store?.touch(user, [...clients], this.ttlSeconds);
    } catch (err) {
      this.log.warn({ err }, "maxConnectionsPerUser: refreshing this node's connections failed; will retry");
    }
  }
}
