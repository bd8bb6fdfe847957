import type { ChannelsQuery, Control } from "./gen/realtime/v1/broker.js";
import type { ChannelsResponse, NodeInfo } from "./gen/realtime/v1/hub.js";
import { ChannelsQueries, mergeChannels, type ChannelsPart } from "./channels-query.js";
import type { Clock, Timer } from "./clock.js";

/** How often a node announces itself to the cluster. */
const ANNOUNCE_INTERVAL_MS = 5000;

/** What the cluster needs of its own node. */
export interface LocalNode {
  readonly id: string;
  info(): NodeInfo;
  /** This node's channels matching `pattern`, bounded. */
  channels(pattern: string): ChannelsPart;
  /** Publishes a control envelope to the other nodes; `onFailure` when the broker refuses it. */
  sendControl(control: Control, onFailure?: () => void): void;
}

/**
 * The other nodes, as this node hears them through the broker: who is alive (announcements
 * every ANNOUNCE_INTERVAL_MS, forgotten after three missed), and the cluster-wide Channels
 * call (a query on the control channel, answers addressed to the asking node).
 */
export class Cluster {
  private readonly peers = new Map<string, { info: NodeInfo; seenAt: number }>();
  private readonly queries: ChannelsQueries;
  private timer: Timer | undefined;
  private closed = false;

  constructor(
    private readonly node: LocalNode,
    private readonly clock: Clock,
  ) {
    this.queries = new ChannelsQueries(clock);
  }

  start(): void {
    this.announce();
    this.timer = this.clock.setInterval(() => this.announce(), ANNOUNCE_INTERVAL_MS);
  }

  stop(): void {
    this.closed = true;
    this.clock.clear(this.timer);
    this.queries.close();
  }

  /** A control envelope about the cluster itself; false when it is not one (user controls). */
  onControl(control: Control, origin: string): boolean {
    if (control.node) {
      this.peers.set(control.node.id, { info: control.node, seenAt: this.clock.now() });
      return true;
    }
    if (control.channelsQuery) {
      if (!this.closed) this.answer(origin, control.channelsQuery);
      return true;
    }
    if (control.channelsAnswer) {
      // Every node hears every answer; only the asking node has the query.
      if (control.channelsAnswer.to === this.node.id) this.queries.answer(origin, control.channelsAnswer);
      return true;
    }
    return false;
  }

  /**
   * Channels with subscribers on any node, counts summed over the nodes (HubService.Channels).
   * Asks the peers heard recently and waits until all of them answered or
   * CHANNELS_QUERY_TIMEOUT_MS passed; peers that did not answer are listed in `missingNodes`.
   * Without peers (one node, the memory broker) it answers at once.
   */
  async channels(pattern: string): Promise<ChannelsResponse> {
    const local = this.node.channels(pattern);
    const peers = this.livePeers().map((p) => p.id);
    if (peers.length === 0 || this.closed) return { ...mergeChannels([local]), missingNodes: [] };
    const { requestId, done } = this.queries.open(peers);
    const channelsQuery: ChannelsQuery = { requestId, pattern };
    // A query the broker refuses gets no answers: answer at once rather than at the deadline.
    this.node.sendControl({ channelsQuery }, () => this.queries.finish(requestId));
    const { answers, missing } = await done;
    return { ...mergeChannels([local, ...answers.values()]), missingNodes: missing };
  }

  /** This node and the peers heard within three announcement periods, by id. */
  info(): NodeInfo[] {
    return [this.node.info(), ...this.livePeers()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Another node's Channels call: answer it with this node's part, addressed to that node. */
  private answer(from: string, q: ChannelsQuery): void {
    this.node.sendControl({ channelsAnswer: { requestId: q.requestId, to: from, ...this.node.channels(q.pattern) } });
  }

  /** Tells the other nodes about this one (periodically, and when what it serves changes). */
  announce(): void {
    this.node.sendControl({ node: this.node.info() });
  }

  /** The peers heard within three announcement periods (forgetting older ones). */
  private livePeers(): NodeInfo[] {
    const cutoff = this.clock.now() - 3 * ANNOUNCE_INTERVAL_MS;
    const nodes: NodeInfo[] = [];
    for (const [id, p] of this.peers) {
      if (p.seenAt < cutoff) this.peers.delete(id);
      else nodes.push(p.info);
    }
    return nodes;
  }
}
