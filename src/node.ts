import type { Logger } from "pino";
import { isReconnectNotifier, type Broker, type HistoryPublisher } from "./broker/broker.js";
import type { PresenceStore, PresenceStats } from "./presence/presence-store.js";
import type { HistoryStore, ReadOptions, ReadResult } from "./history/history-store.js";
import type { Config, NamespaceOptions } from "./config.js";
import type { BrokerEnvelope, Control } from "./gen/realtime/v1/broker.js";
import type { ChannelsResponse, DisconnectRequest, EraseUserRequest, EraseUserResponse, UnsubscribeRequest, NodeInfo } from "./gen/realtime/v1/hub.js";
import { DisconnectCode, type ClientInfo, type Publication, type StreamPosition } from "./gen/realtime/v1/types.js";
import { ChannelEvent } from "./channel-event.js";
import { ChannelRules } from "./channel.js";
import { ChannelReads, NO_POSITION } from "./channel-reads.js";
import { systemClock, type Clock, type Timer } from "./clock.js";
import { Cluster } from "./cluster.js";
import { UserErasure } from "./erase-user.js";
import { Disconnect, toHubError } from "./errors.js";
import type { Recovery } from "./history/recovery.js";
import { Hub, type Subscriber } from "./hub.js";
import type { IdempotencyStore } from "./idempotency/idempotency-store.js";
import { MemoryIdempotencyStore } from "./idempotency/memory.js";
import { createCounters } from "./node-counters.js";
import type { NodeDeps } from "./node-deps.js";
import { NodeReport } from "./node-report.js";
import { OrderedDelivery } from "./ordered-delivery.js";
import { PresenceKeeper } from "./presence-keeper.js";
import { Proxy } from "./proxy/proxy.js";
import { PublishFailureLog } from "./publish-failure-log.js";
import { RpcRouter } from "./rpc/rpc-router.js";
import { RpcWorkers } from "./rpc/rpc-workers.js";
import { SessionRegistry, type ClientSession } from "./sessions.js";
import { UserConnectionLimit } from "./user-connection-limit.js";
import { UserControls } from "./user-controls.js";
import { checkPublicationData } from "./protocol/codec.js";

export { GAP_WAIT_MS } from "./ordered-delivery.js";
export type { NodeDeps } from "./node-deps.js";

export interface PublishOptions {
  /** The publishing client; absent when a backend publishes. */
  info?: ClientInfo | undefined;
  tags?: Record<string, string> | undefined;
  skipHistory?: boolean | undefined;
  idempotencyKey?: string | undefined;
}

/**
 * One hub process: the one hub of the data path. publish() appends to history, publishes
 * through the broker and delivers locally; what arrives from the broker is delivered locally
 * only (never re-published), and envelopes that this node published itself are dropped.
 * Client sessions register here; their subscriptions go through subscribe()/unsubscribe().
 */
export class HubNode {
  readonly id: string;
  readonly config: Config;
  readonly rules: ChannelRules;
  /** Who on this node is subscribed to what (sessions and backend streams). */
  readonly hub = new Hub((err, s, channel) =>
    this.log.error({ err, channel, subscriber: s.id }, "a subscriber failed to take an event; the others got it"),
  );
  /** The connected client sessions of this node. */
  readonly sessions = new SessionRegistry();
  readonly broker: Broker;
  private readonly historyPublisher: HistoryPublisher | undefined;
  readonly presenceStore: PresenceStore;
  readonly historyStore: HistoryStore;
  readonly log: Logger;
  /** Counters for /metrics and tests. */
  readonly counters = createCounters();
  /** maxConnectionsPerUser: sessions take a slot on connect and give it back on close. */
  readonly userConnections: UserConnectionLimit;
  private readonly idempotency: IdempotencyStore;
  private readonly presenceKeeper: PresenceKeeper;
  private readonly ordered: OrderedDelivery;
  private readonly cluster: Cluster;
  private readonly publishFailures: PublishFailureLog;
  /** Per channel, while an idempotent publish into it has not started: what the next publish waits for. */
  private readonly publishGates = new Map<string, Promise<void>>();
  /** Time and timers of this node and its sessions. */
  readonly clock: Clock;
  /** The app backend's webhooks, asked by the sessions of this node. */
  readonly proxy: Proxy;
  /** Browser rpc answered by backends' HandleRpc streams, on this node or another. */
  readonly rpc: RpcRouter;
  /** History and presence as client commands, the server API and subscribes read them. */
  private readonly reads: ChannelReads;
  /** What this node says about itself (Info, Channels, announcements). */
  private readonly report: NodeReport;
  private readonly userControls: UserControls;
  private readonly erasure: UserErasure;
  private ticker: Timer | undefined;
  private closed = false;

  constructor(deps: NodeDeps) {
    this.config = deps.config;
    this.id = deps.config.nodeId;
    this.rules = new ChannelRules(deps.config);
    this.broker = deps.broker;
    this.historyPublisher = deps.historyPublisher;
    this.presenceStore = deps.presence;
    this.historyStore = deps.history;
    this.reads = new ChannelReads(this.rules, deps.presence, deps.history);
    this.log = deps.log;
    this.clock = deps.clock ?? systemClock;
    this.report = new NodeReport(this); // after the clock: uptime counts from here
    this.publishFailures = new PublishFailureLog(deps.log, this.clock);
    this.userControls = new UserControls(this.sessions, (control) => this.sendControl(control));
    this.proxy = new Proxy(deps.config, deps.log);
    this.idempotency = deps.idempotency ?? new MemoryIdempotencyStore(deps.config.idempotencyWindowSeconds * 1000);
    this.presenceKeeper = new PresenceKeeper(deps.presence, deps.config.presenceTtlSeconds, deps.log, this.clock);
    // Counted entries live as long as presence entries: a dead node's connections age out alike.
    this.userConnections = new UserConnectionLimit(deps.config.maxConnectionsPerUser, deps.userConnections,
      deps.config.presenceTtlSeconds, this.counters, deps.log, this.clock);
    const recover = (channel: string, since: StreamPosition) => this.recover(channel, since);
    this.ordered = new OrderedDelivery(this.hub, recover, this.counters, deps.log, deps.sharedHistory ?? true, this.clock);
    this.cluster = new Cluster({
      id: this.id,
      info: () => this.report.info(),
      channels: (pattern) => this.report.channelsPart(pattern),
      sendControl: (control, onFailure) => this.sendControl(control, onFailure),
    }, this.clock);
    // A worker attaching or leaving is announced at once, so other nodes route to it soon.
    const workers = new RpcWorkers(this.clock, deps.config.rpcTimeoutMs, () => !this.closed && this.cluster.announce());
    this.rpc = new RpcRouter(workers, {
      id: this.id,
      peers: () => this.cluster.info().filter((n) => n.id !== this.id),
      sendControl: (control, onFailure) => this.sendControl(control, onFailure),
    }, this.clock, deps.config.rpcTimeoutMs);
    this.erasure = new UserErasure({
      id: this.id,
      stores: [{ kind: "history", store: deps.history }, { kind: "presence", store: deps.presence }],
      disconnect: (user) => this.userControls.disconnectHere(user, "user data erased"),
      peers: () => this.cluster.info().map((n) => n.id).filter((id) => id !== this.id),
      sendControl: (control, onFailure) => this.sendControl(control, onFailure),
    }, this.clock);
  }

  async start(): Promise<void> {
    await this.broker.start((env) => this.onEnvelope(env));
    if (isReconnectNotifier(this.broker)) this.broker.onReconnect(() => this.ordered.fillAll());
    this.cluster.start();
    this.presenceKeeper.start();
    this.userConnections.start();
    // Pings, pong timeouts and token expiry of every session, whatever carries it.
    this.ticker = this.clock.setInterval(() => {
      const now = this.clock.now();
      for (const s of this.sessions.all()) s.tick(now);
    }, this.config.pingIntervalSeconds * 1000);
  }

  options(channel: string): NamespaceOptions {
    return this.rules.options(channel);
  }

  /** A client session connected: the server API and the cluster can reach it now. */
  register(s: ClientSession): void {
    this.sessions.add(s);
  }

  unregister(s: ClientSession): void {
    this.sessions.remove(s);
  }

  /** Publishes `data` into `channel`: the entry point of backends and clients. */
  publish(channel: string, data: Buffer, opts: PublishOptions = {}): Promise<StreamPosition> {
    const acceptedAt = performance.now(); // realtime_publish_deliver_seconds: one reading per publication
    const ns = this.rules.options(channel);
    // What the hub accepts it must be able to deliver: refuse before it reaches history.
    try {
      checkPublicationData(data);
    } catch (err) {
      return Promise.reject(toHubError(err));
    }
    const before = this.publishGates.get(channel);
    if (!opts.idempotencyKey && !before) return this.appendAndPublish(channel, data, ns, opts, acceptedAt);
    // An idempotent publish may first wait for its key (a Redis round trip, another node's
    // run): later publishes into the channel wait until it has started, so one publisher's
    // publications keep their order whether they carry a key or not.
    let started!: () => void;
    const gate = new Promise<void>((r) => (started = r));
    this.publishGates.set(channel, gate);
    const run = async () => {
      if (before) await before;
      const p = this.appendAndPublish(channel, data, ns, opts, acceptedAt); // the history append is issued now
      started();
      return p;
    };
    const result = opts.idempotencyKey ? this.idempotency.run(channel, opts.idempotencyKey, run) : run();
    const done = () => {
      started(); // a repeat answered from memory, or a failed claim, never ran
      if (this.publishGates.get(channel) === gate) this.publishGates.delete(channel);
    };
    result.then(done, done);
    return result;
  }

  /** Appends to history (when the namespace keeps it), publishes to the other nodes and delivers here. */
  private async appendAndPublish(
    channel: string,
    data: Buffer,
    ns: NamespaceOptions,
    opts: PublishOptions,
    acceptedAt: number,
  ): Promise<StreamPosition> {
    const pub: Publication = {
      data,
      offset: "0",
      epoch: "",
      tags: opts.tags ?? {},
      info: opts.info,
      time: String(this.clock.now()),
    };
    let position = NO_POSITION;
    const envelope: BrokerEnvelope = { origin: this.id, channel, publication: pub };
    let published = false;
    if (ns.historySize > 0 && !opts.skipHistory) {
      // A publication that cannot be stored is not acknowledged (the error reaches the
      // publisher, who retries): history must not silently miss what clients were sent.
      const h = { size: ns.historySize, ttlSeconds: ns.historyTtlSeconds };
      if (this.historyPublisher) {
        position = await this.historyPublisher.publishWithHistory(envelope, h);
        this.counters.brokerPublished++;
        published = true;
      } else position = await this.historyStore.append(channel, pub, h);
    }
    this.counters.published++;
    // With atomic history publishing, this node's own publications come back through the
    // broker like everyone else's, so local subscribers see one stream in offset order.
    if (published) return position;
    this.publishToBroker(envelope);
    this.ordered.deliver(channel, pub, acceptedAt, this.counters.deliverLocal);
    return position;
  }

  /**
   * Do not await the broker here: a slow broker would stall local delivery. A failed publish
   * degrades to local delivery (logged and counted); history makes the gap visible elsewhere.
   */
  private publishToBroker(env: BrokerEnvelope, onFailure?: () => void): void {
    if (env.publication) this.counters.brokerPublished++;
    const started = env.publication ? performance.now() : -1;
    this.broker.publish(env).then(() => {
      if (started >= 0) this.counters.brokerPublish.since(started);
    }, (err: unknown) => {
      onFailure?.();
      this.counters.brokerPublishFailures++;
      this.publishFailures.failed(err, env.channel);
    });
  }

  /** Cluster, rpc and user controls: the empty channel is the one every node hears (see Broker). */
  private sendControl(control: Control, onFailure?: () => void): void {
    this.publishToBroker({ origin: this.id, channel: "", control }, onFailure);
  }

  /**
   * Delivers a publication to local subscribers: in offset order and once each when offsets
   * are shared (see OrderedDelivery). What the broker delivers comes in here.
   */
  deliverPublication(channel: string, pub: Publication): void {
    this.ordered.deliver(channel, pub);
  }

  /** A subscriber started at this stream position (the first one sets the channel's position). */
  notePosition(channel: string, position: StreamPosition): void {
    this.ordered.notePosition(channel, position);
  }

  /** What the broker delivers: local delivery only, never re-published; own echoes dropped. */
  private onEnvelope(env: BrokerEnvelope): void {
    if (env.origin === this.id && !(this.historyPublisher && env.publication && env.publication.offset !== "0")) {
      this.counters.echoesDropped++;
      return;
    }
    this.counters.fromBroker++;
    try {
      if (env.publication) this.ordered.deliver(env.channel, env.publication, performance.now(), this.counters.deliverBroker);
      else if (env.join?.info) this.hub.fanOut(ChannelEvent.join(env.channel, env.join.info));
      else if (env.leave?.info) this.hub.fanOut(ChannelEvent.leave(env.channel, env.leave.info));
      else if (env.control && !this.cluster.onControl(env.control, env.origin) && !this.rpc.onControl(env.control, env.origin)
        && !this.erasure.onControl(env.control, env.origin))
        this.userControls.apply(env.control);
    } catch (err) {
      this.log.error({ err, channel: env.channel }, "failed to deliver an envelope from the broker");
    }
  }

  /** Adds a local subscriber; the broker is told on the channel's first one. */
  async subscribe(channel: string, s: Subscriber): Promise<void> {
    // Whatever the caller checked: an invalid name must never reach the broker (a NATS
    // subject past the server's control-line limit makes the connection flap).
    this.rules.options(channel);
    if (!this.hub.subscribe(channel, s)) return;
    try {
      await this.broker.subscribe(channel);
    } catch (err) {
      // The caller gets the error: it must not stay half subscribed (and leak the listener).
      this.hub.unsubscribe(channel, s);
      throw err;
    }
  }

  async unsubscribe(channel: string, s: Subscriber): Promise<void> {
    if (this.hub.unsubscribe(channel, s)) {
      this.ordered.forget(channel);
      await this.broker.unsubscribe(channel);
    }
  }

  /** A client joined a channel: presence entry, and a join event when the namespace wants them. */
  async join(channel: string, info: ClientInfo, ns: NamespaceOptions): Promise<void> {
    if (ns.presence) await this.presenceKeeper.add(channel, info);
    if (ns.joinLeave) {
      this.publishToBroker({ origin: this.id, channel, join: { info } });
      this.hub.fanOut(ChannelEvent.join(channel, info));
    }
  }

  async leave(channel: string, info: ClientInfo, ns: NamespaceOptions): Promise<void> {
    if (ns.presence) await this.presenceKeeper.remove(channel, info.client);
    if (ns.joinLeave) {
      this.publishToBroker({ origin: this.id, channel, leave: { info } });
      this.hub.fanOut(ChannelEvent.leave(channel, info));
    }
  }

  /** The channel's presence; refused when its namespace keeps none. */
  presence(channel: string): Promise<Record<string, ClientInfo>> {
    return this.reads.presence(channel);
  }

  presenceStats(channel: string): Promise<PresenceStats> {
    return this.reads.presenceStats(channel);
  }

  /** The channel's history; refused when its namespace keeps none. */
  history(channel: string, opts: ReadOptions): Promise<ReadResult> {
    return this.reads.history(channel, opts);
  }

  /** What history holds after `since`, and whether it continues `since` without a gap. */
  recover(channel: string, since: StreamPosition): Promise<Recovery> {
    return this.reads.recover(channel, since);
  }

  /** Stream position without reading publications (for subscribe without recovery). */
  position(channel: string, ns: NamespaceOptions): Promise<StreamPosition> {
    return this.reads.position(channel, ns);
  }

  historyRemove(channel: string): Promise<void> {
    return this.reads.historyRemove(channel);
  }

  /** Channels with local subscribers, filtered by a glob (`*` = any run of characters). */
  channels(pattern: string): Record<string, { numClients: number }> {
    return this.report.channels(pattern);
  }

  /** Channels with subscribers on any node, counts summed over the nodes (see Cluster.channels). */
  clusterChannels(pattern: string): Promise<ChannelsResponse> {
    return this.cluster.channels(pattern);
  }

  /** This node and the peers heard recently. */
  clusterInfo(): NodeInfo[] {
    return this.cluster.info();
  }

  localInfo(): NodeInfo {
    return this.report.info();
  }

  /** Disconnects a user's connections on every node. */
  disconnectUser(req: DisconnectRequest): void {
    this.userControls.disconnect(req);
  }

  /** Unsubscribes a user's connections from a channel on every node. */
  unsubscribeUser(req: UnsubscribeRequest): void {
    this.rules.options(req.channel); // an invalid name must reach no node
    this.userControls.unsubscribe(req);
  }

  /** Erases a user's publications and presence on every node and in every store (see UserErasure). */
  eraseUser(req: EraseUserRequest): Promise<EraseUserResponse> {
    return this.erasure.erase(req);
  }

  /** Tells every local client to reconnect elsewhere, then closes the stores. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clear(this.ticker);
    this.presenceKeeper.stop();
    this.cluster.stop();
    this.erasure.close();
    this.ordered.close();
    this.rpc.close();
    const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_SHUTDOWN, "shutdown");
    for (const s of this.sessions.all()) s.disconnect(d);
    // Before the stores close: the cluster must not go on counting this node's connections.
    await this.userConnections.stop();
    this.idempotency.close();
    // The disconnect notifications just queued get part of the grace period.
    await this.proxy.close((this.config.shutdownTimeoutSeconds * 1000) / 2);
    const results = await Promise.allSettled([
      this.broker.close(),
      this.presenceStore.close(),
      this.historyStore.close(),
    ]);
    for (const r of results) if (r.status === "rejected") this.log.warn({ err: r.reason }, "error while closing");
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
