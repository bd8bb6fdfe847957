import type { ChannelEvent } from "./channel-event.js";
import type { NamespaceOptions } from "./config.js";
import type { Disconnect } from "./errors.js";
import {
  disconnectSlow,
  errAlreadySubscribed,
  errBadRequest,
  errLimitExceeded,
  errNotSubscribed,
  HubError,
  toHubError,
} from "./errors.js";
import type { SubscribeCommand, SubscribeResult, SubRefreshResult } from "./gen/realtime/v1/client.js";
import type { SubscribeOptions } from "./gen/realtime/v1/proxy.js";
import type { ClientInfo } from "./gen/realtime/v1/types.js";
import { ErrorCode, UnsubscribeCode } from "./gen/realtime/v1/types.js";
import type { Subscriber } from "./hub.js";
import type { HubNode } from "./node.js";
import { ProxyDisconnect } from "./proxy/proxy.js";
import { Frame, publicationFrame } from "./protocol/frame.js";
import { fromOptions, grantSubscription, type Grant, type Grantee } from "./subscription-grant.js";
import { countRecovery } from "./node-counters.js";

/** The session these subscriptions belong to, as they see it. */
export interface SubscriptionOwner extends Subscriber, Grantee {
  /** The connection's ClientInfo (user, client, connInfo). */
  readonly info: ClientInfo;
  readonly closed: boolean;
  /** Writes to the client, or closes it when it has fallen too far behind. */
  write(frame: Frame): void;
  close(d: Disconnect): void;
}

interface Subscription {
  /** The namespace's options with the grant's overrides. */
  ns: NamespaceOptions;
  info: ClientInfo;
  /** Unix ms when it ends unless refreshed; 0: never. */
  expiresAt: number;
  by: Grant["by"];
  /** A subscription refresh webhook call is under way. */
  refreshing: boolean;
  /** The subscription refresh webhook said `expired`: not asked again, it ends at its expiry. */
  declined?: boolean;
  /** Frames that arrived while subscribing; flushed after the subscribe reply. */
  pending: Frame[] | null;
  /** Their encoded size: bounded like the client's queue, so a stalled subscribe cannot pin memory. */
  pendingBytes: number;
  /**
   * Stream position this client has: the subscribe reply's, then each publication's. A
   * publication at or below it is a duplicate (buffered while subscribing, or recovered in
   * the reply and then delivered live) and is not sent.
   */
  epoch: string;
  offset: number;
}

/** Moves `sub` to the frame's stream position; false when the client has that publication already. */
function advance(sub: Subscription, frame: Frame): boolean {
  if (frame.offset === 0) return true;
  if (frame.epoch === sub.epoch && frame.offset <= sub.offset) return false;
  sub.epoch = frame.epoch;
  sub.offset = frame.offset;
  return true;
}

/**
 * The channels of one client session: subscribing (tokens of private channels, recovery from
 * history, presence and join), what arrives while a subscribe is under way, duplicates a
 * client already has, and leaving.
 */
export class SessionSubscriptions {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly owner: SubscriptionOwner,
    private readonly node: HubNode,
  ) {}

  get channels(): string[] {
    return [...this.subs.keys()];
  }

  has(channel: string): boolean {
    return this.subs.has(channel);
  }

  /** The ClientInfo the client has in `channel` (with its chanInfo), when subscribed. */
  infoIn(channel: string): ClientInfo | undefined {
    return this.subs.get(channel)?.info;
  }

  /**
   * Subscribes, and answers what the subscribe reply carries. Until flush(channel), what
   * arrives for the channel waits, so the client gets the reply first. `granted`: the
   * connect webhook subscribed the client itself, with these options.
   */
  async subscribe(cmd: SubscribeCommand, granted?: SubscribeOptions): Promise<SubscribeResult> {
    const channel = cmd.channel;
    const nsOptions = this.node.options(channel);
    if (this.subs.has(channel)) throw errAlreadySubscribed(channel);
    if (this.subs.size >= this.node.config.maxChannelsPerClient) {
      this.node.counters.limitRefusals.channels_per_connection++;
      throw errLimitExceeded(`at most ${this.node.config.maxChannelsPerClient} channels per connection`);
    }
    const grant = granted ? fromOptions(granted, nsOptions, "proxy") : await grantSubscription(this.owner, cmd, nsOptions);
    const ns = grant.ns;
    if (this.subs.has(channel)) throw errAlreadySubscribed(channel);
    const info = grant.info.length > 0 ? { ...this.owner.info, chanInfo: grant.info } : this.owner.info;
    const sub: Subscription = { ns, info, expiresAt: grant.expiresAt, by: grant.by, refreshing: false, pending: [], pendingBytes: 0, epoch: "", offset: 0 };
    this.subs.set(channel, sub);
    try {
      // Register before reading history so nothing published meanwhile is missed; what
      // arrives meanwhile waits in `pending` and duplicates of the reply are dropped.
      await this.node.subscribe(channel, this.owner);
      const recoverable = ns.historySize > 0 && grant.recovery;
      const result: SubscribeResult = {
        recoverable,
        epoch: "",
        offset: "0",
        recovered: false,
        publications: [],
        wasRecovering: cmd.recover,
        ttl: sub.expiresAt ? secondsUntil(sub.expiresAt) : 0,
      };
      if (recoverable) {
        if (cmd.recover) {
          const r = await this.node.recover(channel, { offset: cmd.offset, epoch: cmd.epoch });
          result.epoch = r.position.epoch;
          result.offset = r.position.offset;
          result.publications = r.publications;
          result.recovered = r.recovered;
          countRecovery(this.node.counters, r);
        } else {
          const pos = await this.node.position(channel, ns);
          result.epoch = pos.epoch;
          result.offset = pos.offset;
        }
      }
      sub.epoch = result.epoch;
      sub.offset = Number(result.offset);
      this.node.notePosition(channel, { epoch: result.epoch, offset: result.offset });
      await this.node.join(channel, info, ns);
      if (this.owner.closed || this.subs.get(channel) !== sub) {
        // Closed (releaseAll) or unsubscribed by the server while joining: that cleanup ran
        // before the join landed, so undo it here or the presence entry would be refreshed
        // forever; the catch below leaves the hub.
        await this.node.leave(channel, info, ns);
        throw this.owner.closed ? errBadRequest("connection closed") : errNotSubscribed(channel);
      }
      return result;
    } catch (err) {
      if (this.subs.get(channel) === sub) this.subs.delete(channel);
      await this.node.unsubscribe(channel, this.owner);
      throw err;
    }
  }

  /**
   * The connect webhook's server-side subscriptions. One that fails (an unknown namespace) is
   * logged and left out rather than failing a connect the app allowed. What arrives for them
   * waits for the connect reply: the caller writes it as soon as this resolves, before the
   * flush runs.
   */
  async subscribeForServer(wanted: Record<string, SubscribeOptions>): Promise<Record<string, SubscribeResult>> {
    const subs: Record<string, SubscribeResult> = {};
    for (const [channel, options] of Object.entries(wanted)) {
      try {
        subs[channel] = await this.subscribe({ channel, token: "", recover: false, epoch: "", offset: "0" }, options);
      } catch (err) {
        this.node.log.warn({ err, channel, client: this.owner.id }, "connect webhook: server-side subscription failed");
      }
    }
    const channels = Object.keys(subs);
    if (channels.length > 0) setImmediate(() => channels.forEach((c) => this.flush(c)));
    return subs;
  }

  /** A new subscription token (client sub_refresh command): the subscription lives on until it expires. */
  async refresh(channel: string, token: string): Promise<SubRefreshResult> {
    const sub = this.subs.get(channel);
    if (!sub) throw errNotSubscribed(channel);
    const claims = await this.owner.verifier.verifySubscribe(token, this.owner.user, channel);
    if (this.subs.get(channel) !== sub) throw errNotSubscribed(channel);
    sub.expiresAt = claims.expiresAt * 1000;
    if (claims.chanInfo.length > 0) sub.info = { ...sub.info, chanInfo: claims.chanInfo };
    return { ttl: sub.expiresAt ? secondsUntil(sub.expiresAt) : 0 };
  }

  /**
   * Periodic check (each ping interval): subscriptions the app granted with an expiry are
   * refreshed through the subscription refresh webhook before they end; any subscription
   * past its expiry ends with an unsubscribe push (2002).
   */
  tick(now: number, leadMs: number): void {
    for (const [channel, sub] of this.subs) {
      if (!sub.expiresAt || sub.refreshing || sub.pending) continue;
      if (now > sub.expiresAt) {
        this.end(channel, UnsubscribeCode.UNSUBSCRIBE_CODE_EXPIRED, "subscription expired");
        continue;
      }
      const ep = sub.by === "proxy" ? this.owner.proxy.endpoint("subRefresh", sub.ns) : null;
      if (ep && !sub.declined && sub.expiresAt - now <= leadMs) {
        sub.refreshing = true;
        this.owner
          .ask("subRefresh", ep, { context: this.owner.proxyContext(), channel })
          .then(
            (r) => {
              if (this.subs.get(channel) !== sub) return;
              if (r.expired) return void (sub.declined = true);
              sub.expiresAt = Number(r.expireAt) * 1000;
              if (r.info.length > 0) sub.info = { ...sub.info, chanInfo: r.info };
            },
            (err: unknown) => {
              if (!(err instanceof ProxyDisconnect) && !(err instanceof HubError && err.temporary))
                this.node.log.warn({ err, channel, client: this.owner.id }, "subscription refresh failed");
            },
          )
          .finally(() => (sub.refreshing = false));
      }
    }
  }

  /** The hub ends a subscription: the client gets an unsubscribe push, the app a notification. */
  end(channel: string, code: UnsubscribeCode, reason: string): void {
    if (!this.subs.has(channel)) return;
    this.unsubscribe(channel, code, reason).then(
      () => this.owner.write(new Frame({ id: 0, error: undefined, push: { channel, unsubscribe: { code, reason } } })),
      (err: unknown) => this.node.log.warn({ err, channel }, "ending a subscription failed"),
    );
  }

  /** The subscribe reply is out: what waited for it follows, without what the reply held. */
  flush(channel: string): void {
    const sub = this.subs.get(channel);
    if (!sub?.pending) return;
    const frames = sub.pending;
    sub.pending = null;
    for (const f of frames) if (advance(sub, f)) this.owner.write(f);
  }

  /**
   * Receive-only transports (SSE, long-poll) subscribe on the client's behalf: the reply is
   * numbered `id` (the channel's place in the request), recovered publications follow as
   * pushes (so SSE ids advance), then whatever arrived meanwhile. Errors become error replies.
   */
  async subscribeAndStream(id: number, cmd: SubscribeCommand): Promise<void> {
    let subscribed = false;
    try {
      const result = await this.subscribe(cmd);
      subscribed = true;
      const frames = [
        new Frame({ id, error: undefined, subscribe: { ...result, publications: [] } }),
        ...result.publications.map((pub) => publicationFrame(cmd.channel, pub)),
      ];
      // All encoded before any is written: on failure the client gets an error, not half a stream.
      for (const f of frames) f.json();
      for (const f of frames) this.owner.write(f);
      this.flush(cmd.channel);
    } catch (err) {
      if (subscribed) await this.drop(cmd.channel);
      const e = toHubError(err);
      if (e.code === ErrorCode.ERROR_CODE_INTERNAL) this.node.log.error({ err, client: this.owner.id }, "subscribe failed");
      this.owner.write(new Frame({ id, error: e.toWire() }));
    }
  }

  /** Undoes a subscription whose reply could not be sent, so subscribing again works. */
  async drop(channel: string): Promise<void> {
    const sub = this.subs.get(channel);
    if (!sub) return;
    this.subs.delete(channel);
    await this.release(channel, sub).catch((err: unknown) =>
      this.node.log.warn({ err, channel, client: this.owner.id }, "undoing a failed subscribe failed"),
    );
  }

  /** Leaves `channel`; the app's unsubscribe notification (when configured) says why. */
  async unsubscribe(channel: string, code = UnsubscribeCode.UNSUBSCRIBE_CODE_CLIENT, reason = "client unsubscribed"): Promise<void> {
    const sub = this.subs.get(channel);
    if (!sub) throw errNotSubscribed(channel);
    this.subs.delete(channel);
    const ep = this.owner.proxy.endpoint("unsubscribe", sub.ns);
    if (ep) this.owner.proxy.notify("unsubscribe", ep, { context: this.owner.proxyContext(), channel, code, reason, time: String(Date.now()) });
    await this.node.unsubscribe(channel, this.owner);
    await this.node.leave(channel, sub.info, sub.ns);
  }

  /** An event of a channel: written, held while its subscribe is under way, or dropped as a duplicate. */
  deliver(event: ChannelEvent): void {
    const sub = this.subs.get(event.channel);
    if (!sub) return;
    const frame = event.frame;
    if (sub.pending) {
      sub.pending.push(frame);
      sub.pendingBytes += frame.json().length;
      if (sub.pendingBytes > this.node.config.clientQueueMaxBytes) this.owner.close(disconnectSlow);
    } else if (advance(sub, frame)) this.owner.write(frame);
  }

  /** Leaves every channel (the connection closed). */
  async releaseAll(): Promise<void> {
    const subs = [...this.subs];
    this.subs.clear();
    for (const [channel, sub] of subs) {
      try {
        await this.release(channel, sub);
      } catch (err) {
        this.node.log.warn({ err, channel, client: this.owner.id }, "cleanup after disconnect failed");
      }
    }
  }

  private async release(channel: string, sub: Subscription): Promise<void> {
    await this.node.unsubscribe(channel, this.owner);
    await this.node.leave(channel, sub.info, sub.ns);
  }
}

/** Whole seconds until `atMs`, at least 1 (see secondsLeft in session-commands.ts). */
function secondsUntil(atMs: number): number {
  return Math.max(1, Math.floor((atMs - Date.now()) / 1000));
}
