import { Disconnect, HubError } from "../errors.js";
import { DisconnectCode, ErrorCode } from "../gen/realtime/v1/types.js";
import type { Transport } from "../transport.js";

export type RefusalReason = "node_limit" | "ip_limit";
type TransportName = Transport["name"];

/** Why a connection was refused, as each transport tells its client. */
export interface Refusal {
  reason: RefusalReason;
  /** WebSocket: sent as a disconnect push, then as the close code. */
  disconnect: Disconnect;
  /** SSE and long-poll: the error of the refused request (503 when temporary, else 429). */
  error: HubError;
}

const NODE_FULL: Refusal = {
  reason: "node_limit",
  disconnect: new Disconnect(DisconnectCode.DISCONNECT_CODE_NODE_FULL, "node full: reconnect later, maybe to another node"),
  error: new HubError(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, "node full: retry later, maybe on another node", true),
};

const IP_LIMIT: Refusal = {
  reason: "ip_limit",
  disconnect: new Disconnect(DisconnectCode.DISCONNECT_CODE_CONNECTION_LIMIT, "too many connections from this address"),
  error: new HubError(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, "too many connections from this address"),
};

/**
 * Counts this node's client connections (WebSocket, SSE, long-poll sessions) in total and
 * per remote address, and refuses new ones past `maxConnections` / `maxConnectionsPerIp`
 * (0: no cap). A connection holds its slot from acquire() until the release() it got back
 * is called, which the edge does from the session's close hook.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly open: Record<TransportName, number> = { websocket: 0, sse: 0, longpoll: 0 };
  private readonly refusals: Record<RefusalReason, number> = { node_limit: 0, ip_limit: 0 };

  constructor(private readonly caps: { maxConnections: number; maxConnectionsPerIp: number }) {}

  /** A slot for a new connection from `ip`: its release function (idempotent), or why not. */
  acquire(ip: string, transport: TransportName): { release: () => void } | { refused: Refusal } {
    const { maxConnections, maxConnectionsPerIp } = this.caps;
    // The address first: a client over its own cap must not be told to retry.
    const fromIp = maxConnectionsPerIp > 0 ? (this.perIp.get(ip) ?? 0) : 0;
    const refused =
      maxConnectionsPerIp > 0 && fromIp >= maxConnectionsPerIp
        ? IP_LIMIT
        : maxConnections > 0 && this.total >= maxConnections
          ? NODE_FULL
          : undefined;
    if (refused) {
      this.refusals[refused.reason]++;
      return { refused };
    }
    this.total++;
    this.open[transport]++;
    if (maxConnectionsPerIp > 0) this.perIp.set(ip, fromIp + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.total--;
      this.open[transport]--;
      if (maxConnectionsPerIp <= 0) return;
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n > 0) this.perIp.set(ip, n);
      else this.perIp.delete(ip);
    };
    return { release };
  }

  /** Open connections by transport (the metrics read it at scrape time). */
  openConnections(transport: TransportName): number {
    return this.open[transport];
  }

  /** Connections refused since start, by reason. */
  refused(reason: RefusalReason): number {
    return this.refusals[reason];
  }
}
