import { HubError } from "./errors.js";
import type { Logger } from "./log.js";
import type { Endpoint } from "./proxy/endpoint.js";
import { ProxyDisconnect } from "./proxy/proxy.js";
import type { Grantee } from "./subscription-grant.js";

/** The session, as its expiry sees it. */
export interface ExpiringConnection extends Grantee {
  readonly id: string;
  /** The refresh webhook's new connection info. */
  setConnInfo(info: Buffer): void;
}

/**
 * When a connection ends unless refreshed, and who refreshes it: the client with a new token
 * (refresh command), or the app through the refresh webhook, asked one tick before expiry.
 */
export class ConnectionExpiry {
  /** Unix ms; 0: never. */
  private expiresAt = 0;
  private by: "token" | "proxy" | "none" = "none";
  private refreshing = false;
  /** The refresh webhook said `expired`: not asked again, the connection ends at its expiry. */
  private declined = false;

  constructor(
    private readonly conn: ExpiringConnection,
    private readonly log: Logger,
  ) {}

  set(expiresAtMs: number, by?: "token" | "proxy" | "none"): void {
    this.expiresAt = expiresAtMs;
    if (by) this.by = by;
  }

  /** True when the connection has expired (the session closes it with 3005); may ask the app first. */
  tick(now: number, leadMs: number): boolean {
    if (!this.expiresAt || this.refreshing) return false;
    if (now > this.expiresAt) return true;
    const ep = this.by === "proxy" ? this.conn.proxy.endpoint("refresh") : null;
    // Asked one tick ahead, so the answer lands before the expiry it extends.
    if (ep && !this.declined && this.expiresAt - now <= leadMs) void this.refreshByProxy(ep);
    return false;
  }

  private async refreshByProxy(ep: Endpoint): Promise<void> {
    this.refreshing = true;
    try {
      const r = await this.conn.ask("refresh", ep, { context: this.conn.proxyContext() });
      if (r.expired) {
        this.declined = true;
        return;
      }
      this.expiresAt = Number(r.expireAt) * 1000;
      if (r.info.length > 0) this.conn.setConnInfo(r.info);
    } catch (err) {
      // A temporary failure is tried again next tick, until the connection expires.
      if (!(err instanceof ProxyDisconnect) && !(err instanceof HubError && err.temporary))
        this.log.warn({ err, client: this.conn.id }, "connection refresh failed");
    } finally {
      this.refreshing = false;
    }
  }
}
