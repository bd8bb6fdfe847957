import type {
  ClientInfo,
  HistoryResult,
  PresenceStats,
  Publication,
  PublishResult,
  StreamPosition,
  SubscribeResult,
  WirePush,
} from "./types.js";
import { ClientErrorCode, RealtimeError, clientInfo, offsetAfter, publication } from "./types.js";

/** What a subscription tells its owner. Every handler is optional. */
export interface SubscriptionHandlers<T = unknown> {
  /** A publication, live or recovered after a reconnect; each one once, in stream order. */
  onPublication?: (pub: Publication<T>) => void;
  /** Someone subscribed (channels with join/leave on); includes this connection itself. */
  onJoin?: (info: ClientInfo) => void;
  onLeave?: (info: ClientInfo) => void;
  /**
   * After each (re)subscribe, before any recovered publication is handed over. When
   * `wasRecovering` and not `recovered`, publications were lost while disconnected.
   */
  onSubscribed?: (ctx: SubscribedContext) => void;
  /** The hub removed this subscription (server-side unsubscribe); it is not resumed. */
  onUnsubscribed?: (info: { code: number; reason: string }) => void;
  /** A subscribe that failed for good (the subscription ends) or a temporary failure (it retries). */
  onError?: (err: RealtimeError) => void;
}

export interface SubscribeOptions<T = unknown> extends SubscriptionHandlers<T> {
  /** Subscription JWT (private channels). */
  token?: string;
  /**
   * Fetches a fresh subscription JWT before each subscribe, and before the subscription's
   * token expires (sub_refresh, WebSocket only); wins over `token`.
   */
  getToken?: () => Promise<string>;
  /** Recover missed publications after a reconnect. Default true. */
  recover?: boolean;
  /** Start by recovering from this position (e.g. one saved across page loads). */
  since?: StreamPosition;
}

export interface SubscribedContext {
  /** The channel keeps history, so a later reconnect can recover. */
  recoverable: boolean;
  /** This subscribe asked to recover (a resubscribe after a reconnect). */
  wasRecovering: boolean;
  /** Every missed publication follows; false when some were lost. */
  recovered: boolean;
  /** Top of the stream when subscribed. */
  epoch: string;
  offset: string;
}

export type SubscriptionState = "subscribing" | "subscribed" | "unsubscribed";

/** @internal What a subscription needs from its client. */
export interface SubscriptionHost {
  publish(channel: string, data: unknown): Promise<PublishResult>;
  presence(channel: string): Promise<Record<string, ClientInfo>>;
  presenceStats(channel: string): Promise<PresenceStats>;
  history<T>(channel: string, opts: HistoryOptions): Promise<HistoryResult<T>>;
  release(sub: SubscriptionControl, tellHub: boolean): Promise<void>;
  /** A new subscription token for `channel` (sub_refresh); resolves with the new ttl. */
  refresh(channel: string, token: string): Promise<{ ttl?: number }>;
  /** Whether the current connection takes commands (WebSocket; SSE does not). */
  canRefresh(): boolean;
}

/**
 * @internal What the client drives on a subscription, the same whatever its data type: the
 * client keeps subscriptions of every `T` in one map.
 */
export interface SubscriptionControl {
  readonly channel: string;
  readonly position: StreamPosition | null;
  token(): string | undefined | Promise<string>;
  subscribeBody(token: string | undefined): Record<string, unknown>;
  suspend(): void;
  resetPosition(): void;
  subscribed(r: SubscribeResult, pubsFollow: boolean): void;
  failed(err: RealtimeError): void;
  retrying(err: RealtimeError): void;
  push(push: WirePush): void;
}

export interface HistoryOptions {
  /** At most this many publications (capped by the channel's history size); 0 returns only the position. */
  limit?: number;
  /** Only publications after this position. */
  since?: StreamPosition;
  /** Newest first. */
  reverse?: boolean;
}

/**
 * One channel subscription. It lives until unsubscribe() (or a server-side unsubscribe or a
 * final error): across reconnects it resubscribes by itself and recovers what it missed.
 */
export class Subscription<T = unknown> implements SubscriptionControl {
  state: SubscriptionState = "subscribing";
  /** Last stream position seen (from publications and subscribe results), for recovery. */
  epoch = "";
  offset = "0";
  /** Whether the channel keeps history (known once subscribed). */
  recoverable = false;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  /** @internal */
  constructor(
    private readonly host: SubscriptionHost,
    readonly channel: string,
    private readonly options: SubscribeOptions<T>,
  ) {
    if (options.since) {
      this.epoch = options.since.epoch;
      this.offset = options.since.offset;
    }
  }

  /** Handlers may be replaced at any time. */
  get handlers(): SubscriptionHandlers<T> {
    return this.options;
  }

  /** Publishes into this channel (needs the WebSocket transport and a namespace that allows it). */
  publish(data: T): Promise<PublishResult> {
    return this.host.publish(this.channel, data);
  }

  /** Who is subscribed now, keyed by client id. */
  presence(): Promise<Record<string, ClientInfo>> {
    return this.host.presence(this.channel);
  }

  presenceStats(): Promise<PresenceStats> {
    return this.host.presenceStats(this.channel);
  }

  history(opts: HistoryOptions = {}): Promise<HistoryResult<T>> {
    return this.host.history<T>(this.channel, opts);
  }

  /** Leaves the channel. The subscription is finished; subscribe again for a new one. */
  unsubscribe(): Promise<void> {
    if (this.state === "unsubscribed") return Promise.resolve();
    this.state = "unsubscribed";
    this.stopRefresh();
    return this.host.release(this, true);
  }

  /** Position to resume from, when there is one and recovery is on. */
  get position(): StreamPosition | null {
    return this.options.recover !== false && this.epoch !== "" ? { epoch: this.epoch, offset: this.offset } : null;
  }

  /** @internal The subscription token: at once, or a promise when it must be fetched. */
  token(): string | undefined | Promise<string> {
    const { getToken, token } = this.options;
    if (!getToken) return token;
    try {
      return getToken();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** @internal The subscribe command body. */
  subscribeBody(token: string | undefined): Record<string, unknown> {
    const body: Record<string, unknown> = { channel: this.channel };
    if (token) body.token = token;
    const pos = this.position;
    if (pos) Object.assign(body, { recover: true, epoch: pos.epoch, offset: pos.offset });
    return body;
  }

  /** @internal The connection is gone; a resubscribe follows when it comes back. */
  suspend(): void {
    if (this.state === "subscribed") this.state = "subscribing";
    this.stopRefresh();
  }

  /** @internal Forget the position (the hub cannot recover from it). */
  resetPosition(): void {
    this.epoch = "";
    this.offset = "0";
  }

  /**
   * @internal The subscribe reply. Over WebSocket the missed publications come inside it;
   * over SSE (`pubsFollow`) they follow as pushes, so the position must not jump ahead of them.
   */
  subscribed(r: SubscribeResult, pubsFollow: boolean): void {
    if (this.state === "unsubscribed") return;
    this.state = "subscribed";
    this.recoverable = r.recoverable;
    const resumeHere = pubsFollow && r.wasRecovering && r.epoch !== "" && r.epoch === this.epoch;
    this.call(() =>
      this.options.onSubscribed?.({
        recoverable: r.recoverable,
        wasRecovering: r.wasRecovering,
        recovered: r.recovered,
        epoch: r.epoch,
        offset: r.offset,
      }),
    );
    for (const pub of r.publications) this.deliver(pub as Publication<T>);
    if (r.epoch !== "" && !resumeHere && this.state === "subscribed") {
      this.epoch = r.epoch;
      this.offset = r.offset;
    }
    this.scheduleRefresh(r.ttl);
  }

  /** Before the token expires (at 80% of what is left), a fresh one from getToken. */
  private scheduleRefresh(ttl: number): void {
    this.stopRefresh();
    const getToken = this.options.getToken;
    // Over SSE there is no sub_refresh: the hub ends the subscription (2002) at expiry.
    if (!ttl || !getToken || this.state !== "subscribed" || !this.host.canRefresh()) return;
    this.refreshTimer = setTimeout(() => void this.refresh(getToken), ttl * 800);
  }

  private async refresh(getToken: () => Promise<string>): Promise<void> {
    this.refreshTimer = null;
    try {
      const r = await this.host.refresh(this.channel, await getToken());
      this.scheduleRefresh(r.ttl ?? 0);
    } catch (err) {
      if (this.state !== "subscribed") return;
      const e = err instanceof RealtimeError ? err : new RealtimeError(ClientErrorCode.TOKEN, `subscription token refresh failed: ${String(err)}`, true);
      this.call(() => this.options.onError?.(e));
      // Tried again shortly; if it never works the hub ends the subscription (2002) at expiry.
      this.stopRefresh();
      this.refreshTimer = setTimeout(() => void this.refresh(getToken), 5000);
    }
  }

  private stopRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** @internal A final subscribe error: the subscription ends. */
  failed(err: RealtimeError): void {
    this.state = "unsubscribed";
    this.stopRefresh();
    this.call(() => this.options.onError?.(err));
  }

  /** @internal A temporary subscribe error: the client retries. */
  retrying(err: RealtimeError): void {
    this.call(() => this.options.onError?.(err));
  }

  /** @internal A push for this channel. */
  push(push: WirePush): void {
    if (this.state === "unsubscribed") return;
    if (push.pub) this.deliver(publication<T>(push.pub));
    else if (push.join) {
      const info = clientInfo(push.join.info);
      this.call(() => this.options.onJoin?.(info));
    } else if (push.leave) {
      const info = clientInfo(push.leave.info);
      this.call(() => this.options.onLeave?.(info));
    } else if (push.unsubscribe) {
      this.state = "unsubscribed";
      this.stopRefresh();
      void this.host.release(this, false);
      const info = { code: push.unsubscribe.code ?? 0, reason: push.unsubscribe.reason ?? "" };
      this.call(() => this.options.onUnsubscribed?.(info));
    }
  }

  /** Hands a publication over once: recovery may overlap what was already delivered. */
  private deliver(pub: Publication<T>): void {
    if (pub.offset !== "0" && pub.epoch !== "") {
      if (pub.epoch === this.epoch && !offsetAfter(pub.offset, this.offset)) return;
      this.epoch = pub.epoch;
      this.offset = pub.offset;
    }
    this.call(() => this.options.onPublication?.(pub));
  }

  /** A throwing handler is reported and skipped: it must not break the subscription. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      console.error(`realtime-hub: a handler of ${JSON.stringify(this.channel)} threw`, err);
    }
  }
}
