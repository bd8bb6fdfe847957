import type { Broker } from "./broker/broker.js";
import { collectChannels, globMatch, type ChannelsPart } from "./channels-query.js";
import type { Clock } from "./clock.js";
import type { NodeInfo } from "./gen/realtime/v1/hub.js";
import type { Hub } from "./hub.js";
import type { RpcWorkers } from "./rpc/rpc-workers.js";
import type { SessionRegistry } from "./sessions.js";
import { VERSION } from "./version.js";

/** What the report reads: the node's own registries and parts, read when asked. */
export interface ReportedNode {
  readonly id: string;
  readonly hub: Hub;
  readonly sessions: SessionRegistry;
  readonly broker: Broker;
  readonly clock: Clock;
  /** Its HandleRpc workers: other nodes route rpc by the methods they serve. */
  readonly rpc: { readonly workers: Pick<RpcWorkers, "methods"> };
}

/**
 * What this node says about itself, for the server API's Info and Channels and for the
 * cluster's announcements and Channels queries. Read from the registries when asked, so a
 * report is never stale and costs nothing between asks.
 */
export class NodeReport {
  private readonly startedAt: number;

  constructor(private readonly node: ReportedNode) {
    this.startedAt = node.clock.now();
  }

  info(): NodeInfo {
    const { id, hub, sessions, broker, clock } = this.node;
    const s = sessions.stats();
    const h = hub.stats();
    return {
      id,
      version: VERSION,
      numClients: s.clients,
      numUsers: s.users,
      numChannels: h.channels,
      numSubscriptions: h.subscriptions,
      uptimeSeconds: String(Math.floor((clock.now() - this.startedAt) / 1000)),
      broker: broker.kind,
      brokerHealthy: broker.healthy(),
      rpcMethods: this.node.rpc.workers.methods(),
    };
  }

  /** Channels with local subscribers, filtered by a glob (`*` = any run of characters). */
  channels(pattern: string): Record<string, { numClients: number }> {
    const { hub } = this.node;
    const out: Record<string, { numClients: number }> = {};
    for (const name of hub.channelNames())
      if (!pattern || globMatch(pattern, name)) out[name] = { numClients: hub.numSubscribers(name) };
    return out;
  }

  /** This node's part of a cluster-wide Channels call: its channels matching `pattern`, bounded. */
  channelsPart(pattern: string): ChannelsPart {
    const { hub } = this.node;
    return collectChannels(hub.channelNames(), pattern, (name) => hub.numSubscribers(name));
  }
}
