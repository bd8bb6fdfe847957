import type { Logger } from "pino";
import { isReconnectNotifier, type Broker, type HistoryPublisher } from "./broker/broker.js";
import type { PresenceStore, PresenceStats } from "./presence/presence-store.js";
import type { HistoryStore, ReadOptions, ReadResult } from "./history/history-store.js";
import type { Config, NamespaceOptions } from "./config.js";
import type { BrokerEnvelope, ChannelsQuery, Control } from "./gen/realtime/v1/broker.js";
import type { ChannelsResponse, DisconnectRequest, UnsubscribeRequest, NodeInfo } from "./gen/realtime/v1/hub.js";
import type { ClientInfo, Publication, StreamPosition } from "./gen/realtime/v1/types.js";
import { DisconnectCode } from "./gen/realtime/v1/types.js";
import { ChannelRules } from "./channel.js";
import { ChannelOrder } from "./channel-order.js";
import { ChannelsQueries, collectChannels, globMatch, mergeChannels, type ChannelsPart } from "./channels-query.js";
import { Disconnect, errNotAvailable } from "./errors.js";
import { Hub, type Subscriber } from "./hub.js";
import type { IdempotencyStore } from "./idempotency/idempotency-store.js";
import { MemoryIdempotencyStore } from "./idempotency/memory.js";
import { Frame, publicationFrame } from "./transport/frame.js";
import { checkPublicationData } from "./transport/codec.js";
import { VERSION } from "./version.js";

export interface PublishOptions {
  /** The publishing client; absent when a backend publishes. */
  info?: ClientInfo | undefined;
  tags?: Record<string, string> | undefined;
  skipHistory?: boolean | undefined;
  idempotencyKey?: string | undefined;
}

/** What a local session must support beyond receiving frames: being closed or unsubscribed by the server. */
export interface ControllableSubscriber extends Subscriber {
  disconnect(d: Disconnect): void;
  serverUnsubscribe(channel: string): void;
}

export interface NodeDeps {
  config: Config;
  broker: Broker;
  /** Set when history lives where the broker publishes: append and publish in one step. */
  historyPublisher?: HistoryPublisher | undefined;
  presence: PresenceStore;
  history: HistoryStore;
  /**
   * Whether every node reads the same history, so offsets mean the same everywhere: then
   * delivery is put in offset order and gaps are filled from history. Default true (one node).
   */
  sharedHistory?: boolean | undefined;
  /** Where idempotency keys are remembered; in this process when absent (one node). */
  idempotency?: IdempotencyStore | undefined;
  log: Logger;
}

const NO_POSITION: StreamPosition = { offset: "0", epoch: "" };
/** How often a node announces itself to the cluster. */
const ANNOUNCE_INTERVAL_MS = 5000;
/**
 * How long a publication waits behind a gap before the node reads the gap from history. Brokers
 * reorder publications of different publishers by a few milliseconds; a gap still open after
 * this is a loss.
 */
export const GAP_WAIT_MS = 300;
/** At most one "broker publish failed" log line per this interval (the counter has them all). */
const PUBLISH_FAILURE_LOG_MS = 5000;
/** Retry delay of a gap fill whose history read failed (history store down). */
const GAP_RETRY_MS = 1000;

/**
 * One hub process. broadcast() appends to history, publishes through the broker and delivers
 * locally; what arrives from the broker is delivered locally only (never re-published), and
 * envelopes that this node published itself are dropped.
 */
export class HubNode {
  readonly id: string;
  readonly config: Config;
  readonly rules: ChannelRules;
  readonly hub = new Hub((err, s, channel) =>
    this.log.error({ err, channel, subscriber: s.id }, "a subscriber failed to take a frame; the others got it"),
  );
  readonly broker: Broker;
  private readonly historyPublisher: HistoryPublisher | undefined;
  readonly presenceStore: PresenceStore;
  readonly historyStore: HistoryStore;
  readonly log: Logger;
  private readonly idempotency: IdempotencyStore;
  private publishFailureLoggedAt = 0;
  private publishFailuresLogged = 0;
  /** Per channel, while an idempotent publish into it has not started: what the next publish waits for. */
  private readonly publishGates = new Map<string, Promise<void>>();
  /** Local presence entries, refreshed in the store before their TTL runs out. */
  private readonly localPresence = new Map<string, Map<string, ClientInfo>>();
  private presenceTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private closed = false;
  private readonly sharedHistory: boolean;
  /**
   * Per history channel with local subscribers: what was delivered here last, and what waits
   * behind a gap. Drops duplicates and tells what to fetch from history after an outage.
   */
  private readonly orders = new Map<string, ChannelOrder>();
  /** Counters for /metrics and tests. */
  readonly counters = {
    published: 0,
    delivered: 0,
    brokerPublishFailures: 0,
    fromBroker: 0,
    echoesDropped: 0,
    duplicatesDropped: 0,
    /** Publications delivered from history to close a gap. */
    recoveredAfterReconnect: 0,
    /** Gaps history could not fill (the channel's clients were told to recover). */
    gapsLost: 0,
    brokerPublished: 0,
  };
  /** Other nodes of the cluster, from their announcements, with when they were last heard. */
  private readonly peers = new Map<string, { info: NodeInfo; seenAt: number }>();
  private announceTimer: NodeJS.Timeout | undefined;
  /** Cluster-wide Channels calls waiting for the other nodes' answers. */
  private readonly channelsQueries = new ChannelsQueries();

  constructor(deps: NodeDeps) {
    this.config = deps.config;
    this.id = deps.config.nodeId;
    this.rules = new ChannelRules(deps.config);
    this.broker = deps.broker;
    this.historyPublisher = deps.historyPublisher;
    this.presenceStore = deps.presence;
    this.historyStore = deps.history;
    this.sharedHistory = deps.sharedHistory ?? true;
    this.log = deps.log;
    this.idempotency = deps.idempotency ?? new MemoryIdempotencyStore(deps.config.idempotencyWindowSeconds * 1000);
  }

  async start(): Promise<void> {
    await this.broker.start((env) => this.onEnvelope(env));
    if (isReconnectNotifier(this.broker))
      this.broker.onReconnect(() => {
        for (const channel of this.orders.keys()) void this.fillGap(channel);
      });
    this.announce();
    this.announceTimer = setInterval(() => this.announce(), ANNOUNCE_INTERVAL_MS);
    this.announceTimer.unref();
    // Three refreshes per TTL, so one slow or failed round does not let entries lapse.
    const refreshMs = (this.config.presenceTtlSeconds * 1000) / 3;
    this.presenceTimer = setInterval(() => void this.refreshPresence(), refreshMs);
    this.presenceTimer.unref();
  }

  options(channel: string): NamespaceOptions {
    return this.rules.options(channel);
  }

  /** Publishes `data` into `channel`: the entry point of backends and clients. */
  publish(channel: string, data: Buffer, opts: PublishOptions = {}): Promise<StreamPosition> {
    const ns = this.rules.options(channel);
    // What the hub accepts it must be able to deliver: refuse before it reaches history.
    try {
      checkPublicationData(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const before = this.publishGates.get(channel);
    if (!opts.idempotencyKey && !before) return this.broadcast(channel, data, ns, opts);
    // An idempotent publish may first wait for its key (a Redis round trip, another node's
    // run): later publishes into the channel wait until it has started, so one publisher's
    // publications keep their order whether they carry a key or not.
    let started!: () => void;
    const gate = new Promise<void>((r) => (started = r));
    this.publishGates.set(channel, gate);
    const run = async () => {
      if (before) await before;
      const p = this.broadcast(channel, data, ns, opts); // the history append is issued now
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

  private async broadcast(
    channel: string,
    data: Buffer,
    ns: NamespaceOptions,
    opts: PublishOptions,
  ): Promise<StreamPosition> {
    const pub: Publication = {
      data,
      offset: "0",
      epoch: "",
      tags: opts.tags ?? {},
      info: opts.info,
      time: String(Date.now()),
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
    this.deliverPublication(channel, pub);
    return position;
  }

  /**
   * Do not await the broker here: a slow broker would stall local delivery. A failed publish
   * degrades to local delivery (logged and counted); history makes the gap visible elsewhere.
   */
  private publishToBroker(env: BrokerEnvelope, onFailure?: () => void): void {
    if (env.publication) this.counters.brokerPublished++;
    this.broker.publish(env).catch((err: unknown) => {
      onFailure?.();
      this.counters.brokerPublishFailures++;
      // During an outage every publish fails: one line per interval, with how many, not one each.
      const now = Date.now();
      if (now - this.publishFailureLoggedAt < PUBLISH_FAILURE_LOG_MS) return;
      const failures = this.counters.brokerPublishFailures - this.publishFailuresLogged;
      this.publishFailureLoggedAt = now;
      this.publishFailuresLogged = this.counters.brokerPublishFailures;
      this.log.warn({ err, channel: env.channel, failures }, "broker publish failed; delivered locally only");
    });
  }

  /**
   * Delivers a publication to local subscribers: in offset order and once each when offsets
   * are shared, so a publication behind a gap waits (see ChannelOrder).
   */
  deliverPublication(channel: string, pub: Publication): void {
    if (!this.sharedHistory || pub.offset === "0" || !this.hub.has(channel)) return this.writePublication(channel, pub);
    let order = this.orders.get(channel);
    if (!order || order.epoch !== pub.epoch) {
      // A new epoch is a new stream (history was lost): it starts where this publication is.
      order?.dispose();
      this.orders.set(channel, (order = new ChannelOrder(pub.epoch, Number(pub.offset) - 1)));
    }
    const ready = order.accept(pub);
    if (ready === null) {
      this.counters.duplicatesDropped++;
      return;
    }
    for (const p of ready) this.writePublication(channel, p);
    if (order.overfull) void this.fillGap(channel);
    else if (order.waiting && !order.timer) this.scheduleFill(channel, order, GAP_WAIT_MS);
  }

  /** Encodes the publication once and writes the same bytes to every local subscriber. */
  private writePublication(channel: string, pub: Publication): void {
    this.counters.delivered += this.hub.broadcast(channel, publicationFrame(channel, pub));
  }

  /** A client subscribed at this stream position (the first one sets the channel's position). */
  notePosition(channel: string, position: StreamPosition): void {
    if (this.sharedHistory && position.epoch && !this.orders.has(channel) && this.hub.has(channel))
      this.orders.set(channel, new ChannelOrder(position.epoch, Number(position.offset)));
  }

  private scheduleFill(channel: string, order: ChannelOrder, ms: number): void {
    clearTimeout(order.timer);
    order.timer = setTimeout(() => void this.fillGap(channel), ms);
    order.timer.unref();
  }

  /**
   * Reads from history what this node has not delivered of `channel` (a gap, or what passed
   * while the broker was down) and delivers it in order. Where history cannot say (new epoch,
   * trimmed), the channel's clients are made to reconnect and recover, so the gap is visible
   * to them (recovered=false) instead of silent.
   */
  private async fillGap(channel: string): Promise<void> {
    const order = this.orders.get(channel);
    if (!order) return;
    clearTimeout(order.timer);
    order.timer = undefined;
    const ns = this.rules.options(channel);
    // Live delivery goes on during the read: compare the answer with what was asked.
    const from = order.last;
    let r: ReadResult;
    try {
      r = await this.historyStore.read(channel, {
        since: { offset: String(from), epoch: order.epoch },
        limit: ns.historySize,
        ttlSeconds: ns.historyTtlSeconds,
      });
    } catch (err) {
      if (this.orders.get(channel) !== order) return;
      this.log.warn({ err, channel }, "could not read history to fill a gap; will retry");
      if (order.overfull) this.lose(channel, order);
      else this.scheduleFill(channel, order, GAP_RETRY_MS);
      return;
    }
    if (this.orders.get(channel) !== order) return;
    const first = r.publications[0];
    if (r.position.epoch !== order.epoch || (first !== undefined && Number(first.offset) !== from + 1)) {
      this.log.warn({ channel, epoch: order.epoch, from, history: r.position, first: first?.offset }, "a gap history cannot fill");
      return this.lose(channel, order);
    }
    for (const pub of r.publications) {
      const ready = order.accept(pub);
      if (!ready) continue;
      this.counters.recoveredAfterReconnect++;
      for (const p of ready) this.writePublication(channel, p);
    }
    // Still waiting: history does not have what is missing.
    if (order.waiting) {
      this.log.warn({ channel, epoch: order.epoch, delivered: order.last, history: r.position }, "a gap history cannot fill");
      this.lose(channel, order);
    }
  }

  private lose(channel: string, order: ChannelOrder): void {
    order.dispose();
    this.orders.delete(channel);
    this.counters.gapsLost++;
    const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_INSUFFICIENT_STATE, "insufficient state: reconnect and recover");
    for (const s of this.hub.subscribersOf(channel)) (s as Partial<ControllableSubscriber>).disconnect?.(d);
  }

  private deliverJoinLeave(channel: string, kind: "join" | "leave", info: ClientInfo): void {
    const push = kind === "join" ? { channel, join: { info } } : { channel, leave: { info } };
    this.hub.broadcast(channel, new Frame({ id: 0, error: undefined, push }));
  }

  /** What the broker delivers: local delivery only, never re-published; own echoes dropped. */
  private onEnvelope(env: BrokerEnvelope): void {
    if (env.origin === this.id && !(this.historyPublisher && env.publication && env.publication.offset !== "0")) {
      this.counters.echoesDropped++;
      return;
    }
    this.counters.fromBroker++;
    try {
      if (env.publication) this.deliverPublication(env.channel, env.publication);
      else if (env.join?.info) this.deliverJoinLeave(env.channel, "join", env.join.info);
      else if (env.leave?.info) this.deliverJoinLeave(env.channel, "leave", env.leave.info);
      else if (env.control) this.applyControl(env.control, env.origin);
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
      this.orders.get(channel)?.dispose();
      this.orders.delete(channel);
      await this.broker.unsubscribe(channel);
    }
  }

  /** A client joined a channel: presence entry, and a join event when the namespace wants them. */
  async join(channel: string, info: ClientInfo, ns: NamespaceOptions): Promise<void> {
    if (ns.presence) {
      let local = this.localPresence.get(channel);
      if (!local) this.localPresence.set(channel, (local = new Map()));
      local.set(info.client, info);
      await this.presenceStore.add(channel, info, this.config.presenceTtlSeconds);
    }
    if (ns.joinLeave) {
      this.publishToBroker({ origin: this.id, channel, join: { info } });
      this.deliverJoinLeave(channel, "join", info);
    }
  }

  async leave(channel: string, info: ClientInfo, ns: NamespaceOptions): Promise<void> {
    if (ns.presence) {
      const local = this.localPresence.get(channel);
      if (local) {
        local.delete(info.client);
        if (local.size === 0) this.localPresence.delete(channel);
      }
      await this.presenceStore.remove(channel, info.client);
    }
    if (ns.joinLeave) {
      this.publishToBroker({ origin: this.id, channel, leave: { info } });
      this.deliverJoinLeave(channel, "leave", info);
    }
  }

  private async refreshPresence(): Promise<void> {
    const ttl = this.config.presenceTtlSeconds;
    try {
      for (const [channel, entries] of this.localPresence)
        for (const info of entries.values()) await this.presenceStore.add(channel, info, ttl);
    } catch (err) {
      this.log.warn({ err }, "presence refresh failed; will retry");
    }
  }

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

  /** Stream position without reading publications (for subscribe without recovery). */
  async position(channel: string, ns: NamespaceOptions): Promise<StreamPosition> {
    if (ns.historySize <= 0) return NO_POSITION;
    return (await this.historyStore.read(channel, { limit: 0, ttlSeconds: ns.historyTtlSeconds })).position;
  }

  async historyRemove(channel: string): Promise<void> {
    this.rules.options(channel);
    await this.historyStore.remove(channel);
  }

  /** Channels with local subscribers, filtered by a glob (`*` = any run of characters). */
  channels(pattern: string): Record<string, { numClients: number }> {
    const out: Record<string, { numClients: number }> = {};
    for (const name of this.hub.channelNames())
      if (!pattern || globMatch(pattern, name)) out[name] = { numClients: this.hub.subscribers(name) };
    return out;
  }

  /** This node's part of a Channels call: its channels matching `pattern`, bounded. */
  private localChannels(pattern: string): ChannelsPart {
    return collectChannels(this.hub.channelNames(), pattern, (name) => this.hub.subscribers(name));
  }

  /**
   * Channels with subscribers on any node, counts summed over the nodes (HubService.Channels).
   * Asks the peers heard recently through the broker and waits until all of them answered or
   * CHANNELS_QUERY_TIMEOUT_MS passed; peers that did not answer are listed in `missingNodes`.
   * Without peers (one node, the memory broker) it answers at once.
   */
  async clusterChannels(pattern: string): Promise<ChannelsResponse> {
    const local = this.localChannels(pattern);
    const peers = this.livePeers().map((p) => p.id);
    if (peers.length === 0 || this.closed) return { ...mergeChannels([local]), missingNodes: [] };
    const { requestId, done } = this.channelsQueries.open(peers);
    const channelsQuery: ChannelsQuery = { requestId, pattern };
    // A query the broker refuses gets no answers: answer at once rather than at the deadline.
    this.publishToBroker({ origin: this.id, channel: "", control: { channelsQuery } }, () =>
      this.channelsQueries.finish(requestId),
    );
    const { answers, missing } = await done;
    return { ...mergeChannels([local, ...answers.values()]), missingNodes: missing };
  }

  /** Another node's Channels call: answer it with this node's part, addressed to that node. */
  private answerChannelsQuery(from: string, q: ChannelsQuery): void {
    const part = this.localChannels(q.pattern);
    const channelsAnswer = { requestId: q.requestId, to: from, ...part };
    this.publishToBroker({ origin: this.id, channel: "", control: { channelsAnswer } });
  }

  localInfo(): NodeInfo {
    const s = this.hub.stats();
    return {
      id: this.id,
      version: VERSION,
      numClients: s.clients,
      numUsers: s.users,
      numChannels: s.channels,
      numSubscriptions: s.subscriptions,
      uptimeSeconds: String(Math.floor((Date.now() - this.startedAt) / 1000)),
      broker: this.broker.kind,
      brokerHealthy: this.broker.healthy(),
    };
  }

  /** Disconnects a user's connections on every node. */
  disconnectUser(req: DisconnectRequest): void {
    const control: Control = { disconnect: req };
    this.publishToBroker({ origin: this.id, channel: "", control });
    this.applyControl(control);
  }

  /** Unsubscribes a user's connections from a channel on every node. */
  unsubscribeUser(req: UnsubscribeRequest): void {
    this.rules.options(req.channel);
    const control: Control = { unsubscribe: req };
    this.publishToBroker({ origin: this.id, channel: "", control });
    this.applyControl(control);
  }

  private announce(): void {
    this.publishToBroker({ origin: this.id, channel: "", control: { node: this.localInfo() } });
  }

  /** This node and the peers heard within three announcement periods. */
  clusterInfo(): NodeInfo[] {
    return [this.localInfo(), ...this.livePeers()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The peers heard within three announcement periods (forgetting older ones). */
  private livePeers(): NodeInfo[] {
    const cutoff = Date.now() - 3 * ANNOUNCE_INTERVAL_MS;
    const nodes: NodeInfo[] = [];
    for (const [id, p] of this.peers) {
      if (p.seenAt < cutoff) this.peers.delete(id);
      else nodes.push(p.info);
    }
    return nodes;
  }

  /** `origin`: the node that published the control envelope. */
  private applyControl(control: Control, origin = this.id): void {
    if (control.node) {
      this.peers.set(control.node.id, { info: control.node, seenAt: Date.now() });
      return;
    }
    if (control.channelsQuery) {
      if (!this.closed) this.answerChannelsQuery(origin, control.channelsQuery);
      return;
    }
    if (control.channelsAnswer) {
      // Every node hears every answer; only the asking node has the query.
      if (control.channelsAnswer.to === this.id) this.channelsQueries.answer(origin, control.channelsAnswer);
      return;
    }
    const target = control.disconnect ?? control.unsubscribe;
    if (!target) return;
    // A client id is unique: it alone names the connection (anonymous ones have no user).
    const found = target.client ? [this.hub.session(target.client)] : this.hub.sessionsOf(target.user);
    const sessions = found.filter(
      (s) => s !== undefined && (!target.user || s.user === target.user),
    ) as ControllableSubscriber[];
    if (control.disconnect) {
      const code = control.disconnect.code || DisconnectCode.DISCONNECT_CODE_FORCE_NO_RECONNECT;
      const d = new Disconnect(code, control.disconnect.reason || "disconnected by the server");
      for (const s of sessions) s.disconnect(d);
    } else if (control.unsubscribe) {
      for (const s of sessions) s.serverUnsubscribe(control.unsubscribe.channel);
    }
  }

  /** Tells every local client to reconnect elsewhere, then closes the stores. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.presenceTimer);
    clearInterval(this.announceTimer);
    this.channelsQueries.close();
    for (const order of this.orders.values()) order.dispose();
    this.orders.clear();
    const d = new Disconnect(DisconnectCode.DISCONNECT_CODE_SHUTDOWN, "shutdown");
    for (const s of [...this.hub.allSessions()]) (s as ControllableSubscriber).disconnect(d);
    this.idempotency.close();
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
