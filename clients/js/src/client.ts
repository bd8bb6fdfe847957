import { backoffDelay } from "./backoff.js";
import { CommandQueue } from "./command-queue.js";
import { Emitter } from "./emitter.js";
import { LongPollTransport } from "./longpoll-transport.js";
import { SseTransport } from "./sse-transport.js";
import { endpointOf, streamUrl } from "./stream-url.js";
import { Subscription } from "./subscription.js";
import type { HistoryOptions, SubscribeOptions, SubscriptionControl, SubscriptionHost } from "./subscription.js";
import type { CommandTransport, TransportClose, TransportName } from "./transport.js";
import type {
  ClientInfo,
  ConnectResult,
  DisconnectInfo,
  HistoryResult,
  PresenceStats,
  Publication,
  PublishResult,
  WirePush,
  WireReply,
} from "./types.js";
import {
  ClientErrorCode,
  ErrorCode,
  RealtimeError,
  clientInfo,
  mayReconnect,
  publication,
  subscribeResult,
  toError,
} from "./types.js";
import { WebSocketTransport } from "./websocket-transport.js";

export type { TransportName } from "./transport.js";

export const CLIENT_NAME = "realtime-hub-js";
export const CLIENT_VERSION = "0.1.0";

export type ClientState = "disconnected" | "connecting" | "connected";

export interface ClientOptions {
  /** Connection JWT (optional when the hub allows anonymous connections). */
  token?: string;
  /** Fetches a fresh connection JWT before each connect and token refresh; wins over `token`. */
  getToken?: () => Promise<string>;
  /** Client name reported to the hub (logs, metrics). Default "realtime-hub-js". */
  name?: string;
  version?: string;
  /**
   * "websocket" (default); "sse": over EventSource; "longpoll": over fetch (both send their
   * commands with fetch POSTs to `/connection/emulation`, so every method works over every
   * transport); "auto": WebSocket,
   * falling back for good to SSE when the WebSocket cannot even open `sseFallbackAfter` times
   * in a row (a proxy that blocks it), then to long-polling when the event stream closes
   * before its first event `longPollFallbackAfter` times in a row (a proxy that buffers it).
   */
  transport?: TransportName | "auto";
  /** SSE endpoint. Default: derived from the WebSocket URL (`/connection/sse`). */
  sseUrl?: string;
  /** Long-poll endpoint. Default: derived from the WebSocket URL (`/connection/poll`). */
  pollUrl?: string;
  /** WebSocket failures before "auto" switches to SSE. Default 2. */
  sseFallbackAfter?: number;
  /** Event streams that closed before their first event, before "auto" switches to long-polling. Default 2. */
  longPollFallbackAfter?: number;
  /** Command timeout, ms. Default 10000. */
  timeout?: number;
  /** Reconnect backoff bounds, ms. Defaults 500 and 20000. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /** How late a server ping may be before the connection counts as dead, ms. Default 10000. */
  maxServerPingDelay?: number;
  /** WebSocket / EventSource / fetch implementations (tests, Node). Default: the global ones. */
  WebSocket?: typeof WebSocket;
  EventSource?: typeof EventSource;
  fetch?: typeof fetch;
}

export interface ConnectedContext extends ConnectResult {
  transport: TransportName;
}

export interface ClientEvents {
  state: ClientState;
  connected: ConnectedContext;
  /** An established connection ended (`reconnect` says whether the client tries again), or disconnect() ran. */
  disconnected: DisconnectInfo;
  /** Something went wrong that no promise reports (connect refused, token fetch, bad frame). */
  error: RealtimeError;
  /**
   * A publication of a channel the app subscribed this connection to on connect (the connect
   * webhook's server-side subscriptions), which has no Subscription object of its own.
   */
  publication: { channel: string; pub: Publication };
}

/**
 * A connection to the hub. `connect()` once; it reconnects by itself (exponential backoff
 * with jitter) until `disconnect()` or a close code that says not to (3500-3999), and
 * resubscribes every subscription, recovering what was published meanwhile.
 *
 * It wires the parts: one transport per connection attempt (websocket-transport.ts,
 * sse-transport.ts, longpoll-transport.ts), the command queue (command-queue.ts) and the subscriptions. A
 * generation number, bumped whenever a connection (attempt) ends, makes every callback of an
 * older connection a no-op.
 */
export class RealtimeClient extends Emitter<ClientEvents> {
  state: ClientState = "disconnected";
  /** Id of the current connection ("" when not connected). */
  clientId = "";
  /** Transport of the current connection. */
  transport: TransportName | null = null;

  private readonly opts: ClientOptions;
  private readonly subs = new Map<string, SubscriptionControl>();
  private readonly commands: CommandQueue;
  /** Bumped whenever a connection (attempt) ends: callbacks of older ones are ignored. */
  private generation = 0;
  /** The current connection: a WebSocket, or a stream (SSE, long-poll) that posts its commands. */
  private ws: CommandTransport | null = null;
  private stream: CommandTransport | null = null;
  /**
   * A stream's subscribe replies still to come (1-based places in its URL). Commands wait
   * until none is left: their ids could be the same numbers.
   */
  private streamPlaces: Set<number> | null = null;
  /** The transport of the next connection attempts ("auto" moves it down the list). */
  private mode: TransportName;
  private wsFailures = 0;
  private streamFailures = 0;
  private attempts = 0;
  private lastDisconnect: DisconnectInfo | null = null;
  private pingSeconds = 0;
  private lastReceived = 0;
  private streamReopenScheduled = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private livenessTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly host: SubscriptionHost;

  constructor(
    /** WebSocket endpoint, e.g. `wss://example.com/connection/websocket`. */
    readonly url: string,
    options: ClientOptions = {},
  ) {
    super();
    this.opts = options;
    this.mode = options.transport === "sse" || options.transport === "longpoll" ? options.transport : "websocket";
    // Commands go to the current connection: one is always open when a command is written.
    this.commands = new CommandQueue(options, (line) => (this.ws ?? this.stream)?.send(line));
    this.host = {
      publish: (channel, data) => this.publish(channel, data),
      presence: (channel) => this.presence(channel),
      presenceStats: (channel) => this.presenceStats(channel),
      history: (channel, opts) => this.history(channel, opts),
      release: (sub, tellHub) => this.release(sub, tellHub),
      refresh: (channel, token) => this.request("subRefresh", { channel, token }),
      canRefresh: () => this.transport !== null,
    };
  }

  // ---------------------------------------------------------------- public API

  /** Starts connecting (no-op when already connecting or connected). */
  connect(): void {
    if (this.state !== "disconnected") return;
    this.setState("connecting");
    void this.attempt();
  }

  /** Closes the connection and stops reconnecting. Subscriptions stay, to resume on connect(). */
  disconnect(): void {
    if (this.state === "disconnected") return;
    this.stop({ code: 0, reason: "disconnect() called", reconnect: false }, ClientErrorCode.CLIENT_CLOSED);
  }

  /**
   * Subscribes to `channel` (now, or as soon as the connection is up). Throws when this client
   * already has a subscription to it: use getSubscription() or unsubscribe first.
   */
  subscribe<T = unknown>(channel: string, options: SubscribeOptions<T> = {}): Subscription<T> {
    if (this.subs.has(channel)) throw new Error(`already subscribed to ${JSON.stringify(channel)}`);
    const sub = new Subscription<T>(this.host, channel, options);
    this.subs.set(channel, sub);
    if (this.commandsOpen()) this.sendSubscribes([sub], this.generation);
    else if (this.mode !== "websocket") this.streamSubscriptionsChanged();
    return sub;
  }

  getSubscription<T = unknown>(channel: string): Subscription<T> | undefined {
    // Every entry is a Subscription; `T` is the caller's word, as in subscribe().
    return this.subs.get(channel) as Subscription<T> | undefined;
  }

  /** Publishes into a channel, subscribed or not (if the namespace allows client publish). */
  async publish(channel: string, data: unknown): Promise<PublishResult> {
    const body: Record<string, unknown> = { channel };
    if (data instanceof Uint8Array) body.b64data = base64(data);
    else body.data = data;
    const r = (await this.request("publish", body)) as Partial<PublishResult>;
    return { offset: r.offset ?? "0", epoch: r.epoch ?? "" };
  }

  async presence(channel: string): Promise<Record<string, ClientInfo>> {
    const r = (await this.request("presence", { channel })) as { presence?: Record<string, Partial<ClientInfo>> };
    const out: Record<string, ClientInfo> = {};
    for (const [id, info] of Object.entries(r.presence ?? {})) out[id] = clientInfo({ client: id, ...info });
    return out;
  }

  async presenceStats(channel: string): Promise<PresenceStats> {
    const r = (await this.request("presenceStats", { channel })) as Partial<PresenceStats>;
    return { numClients: r.numClients ?? 0, numUsers: r.numUsers ?? 0 };
  }

  async history<T = unknown>(channel: string, opts: HistoryOptions = {}): Promise<HistoryResult<T>> {
    const body: Record<string, unknown> = { channel };
    if (opts.limit) body.limit = opts.limit;
    if (opts.since) body.since = opts.since;
    if (opts.reverse) body.reverse = true;
    const r = (await this.request("history", body)) as { publications?: WirePush["pub"][]; epoch?: string; offset?: string };
    return { publications: (r.publications ?? []).map((p) => publication<T>(p)), epoch: r.epoch ?? "", offset: r.offset ?? "0" };
  }

  /** Calls the hub's RPC proxy. */
  async rpc(method: string, data: unknown): Promise<unknown> {
    const r = (await this.request("rpc", { method, data })) as { data?: unknown };
    return r.data;
  }

  /** Round trip to the hub. */
  async ping(): Promise<void> {
    await this.request("ping", {});
  }

  /**
   * Sends one command (`method` is a Command field: "publish", "presence", ...) and resolves
   * with its result. Commands made while (re)connecting wait for the connection, within the
   * timeout; when disconnected they fail at once.
   */
  request(method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.state === "disconnected")
      return Promise.reject(new RealtimeError(ClientErrorCode.NOT_CONNECTED, "not connected: call connect()"));
    return this.commands.exchange(method, body, this.commandsOpen());
  }

  /**
   * Whether commands go out now: connected, and on a stream once its subscribe replies are
   * in (until then its replies' ids are places in its URL, which a command's id could match).
   */
  private commandsOpen(): boolean {
    return this.state === "connected" && (this.transport === "websocket" || (this.stream !== null && this.streamPlaces?.size === 0));
  }

  // ---------------------------------------------------------------- connection lifecycle

  private setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  /** One connection attempt: token, then the transport. */
  private async attempt(): Promise<void> {
    const gen = ++this.generation;
    this.lastDisconnect = null;
    let token: string | undefined;
    try {
      token = this.opts.getToken ? await this.opts.getToken() : this.opts.token;
    } catch (err) {
      if (gen !== this.generation) return;
      this.emit("error", tokenFailed(err));
      return this.lost(gen, { code: 0, reason: "getToken failed", reconnect: true });
    }
    if (gen !== this.generation || this.state === "disconnected") return;
    if (this.mode === "websocket") this.openWebSocket(gen, token);
    else await this.openStream(gen, token, this.mode);
  }

  private openWebSocket(gen: number, token: string | undefined): void {
    let opened = false;
    try {
      this.ws = new WebSocketTransport(this.url, this.opts.WebSocket ?? globalThis.WebSocket, {
        onOpen: () => {
          if (gen !== this.generation) return;
          opened = true;
          this.wsFailures = 0;
          const body: Record<string, unknown> = { name: this.opts.name ?? CLIENT_NAME, version: this.opts.version ?? CLIENT_VERSION };
          if (token) body.token = token;
          this.commands.send("connect", body, true, (err, r) =>
            err ? this.connectFailed(gen, err) : this.connected(gen, r, "websocket"),
          );
        },
        onMessage: (text) => {
          if (gen === this.generation) this.receive(text, null);
        },
        onClose: (close) => {
          if (gen !== this.generation) return;
          if (!opened) this.wsFailures++; // never opened: counts toward the SSE fallback
          this.closed(gen, close);
        },
      });
    } catch (err) {
      this.emit("error", new RealtimeError(ClientErrorCode.TRANSPORT, `cannot open a WebSocket: ${describe(err)}`, false, { cause: err }));
      this.wsFailures++;
      return this.lost(gen, { code: 0, reason: "cannot open a WebSocket", reconnect: true });
    }
  }

  /** A stream (SSE or long-poll): it subscribes in its URL, and posts its commands. */
  private async openStream(gen: number, token: string | undefined, kind: "sse" | "longpoll"): Promise<void> {
    const subs = [...this.subs.values()];
    // The stream endpoints need at least one channel: stay "connecting" until the first subscribe.
    if (subs.length === 0) return;
    const endpoint = kind === "sse" ? (this.opts.sseUrl ?? endpointOf(this.url, "sse")) : (this.opts.pollUrl ?? endpointOf(this.url, "poll"));
    const url = await streamUrl(endpoint, subs, token, (sub, err) => sub.retrying(tokenFailed(err)));
    if (gen !== this.generation || this.state === "disconnected") return;
    let heard = false;
    // A proxy that buffers the stream leaves it open and silent: give up on it as on one that closed.
    const silent = setTimeout(() => {
      if (!heard && gen === this.generation) handlers.onClose({ code: 0, reason: `no first ${kind} event in time` });
    }, this.opts.timeout ?? 10_000);
    const handlers = {
      onMessage: (text: string) => {
        if (gen !== this.generation) return;
        heard = true;
        clearTimeout(silent);
        this.streamFailures = 0;
        this.receive(text, subs);
      },
      onClose: (close: TransportClose) => {
        clearTimeout(silent);
        if (gen !== this.generation) return;
        if (!heard) this.streamFailures++; // closed before its first event: counts toward the long-poll fallback
        this.closed(gen, close);
      },
    };
    const fetchImpl = this.opts.fetch ?? globalThis.fetch?.bind(globalThis);
    this.streamPlaces = new Set(subs.map((_, i) => i + 1));
    try {
      this.stream =
        kind === "sse"
          ? new SseTransport(url, this.opts.EventSource ?? globalThis.EventSource, handlers, fetchImpl)
          : new LongPollTransport(url, fetchImpl, handlers);
    } catch (err) {
      this.emit("error", new RealtimeError(ClientErrorCode.TRANSPORT, `cannot open the ${kind} stream: ${describe(err)}`, false, { cause: err }));
      this.streamFailures++;
      return this.lost(gen, { code: 0, reason: `cannot open the ${kind} stream`, reconnect: true });
    }
  }

  private connected(gen: number, r: Partial<ConnectResult>, transport: TransportName): void {
    if (gen !== this.generation) return;
    const result: ConnectedContext = {
      client: r.client ?? "",
      version: r.version ?? "",
      ping: r.ping ?? 0,
      ttl: r.ttl ?? 0,
      node: r.node ?? "",
      transport,
    };
    if (r.data !== undefined) result.data = r.data;
    this.clientId = result.client;
    this.transport = transport;
    this.attempts = 0;
    this.pingSeconds = result.ping;
    this.lastReceived = Date.now();
    this.armLiveness(gen);
    this.setState("connected");
    this.scheduleRefresh(gen, result.ttl);
    if (transport === "websocket") {
      // Subscribes first, then what waited: the hub runs a connection's commands in order,
      // so a publish made while offline lands after the subscribe it may depend on.
      this.sendSubscribes([...this.subs.values()], gen, () => this.commands.flushOutbox());
    }
    this.emit("connected", result);
  }

  private connectFailed(gen: number, err: RealtimeError): void {
    if (gen !== this.generation) return;
    this.emit("error", err);
    // An expired token is worth another try when a fresh one can be fetched; a refused one is not.
    const retry =
      err.temporary || err.code === ClientErrorCode.TIMEOUT || (err.code === ErrorCode.TOKEN_EXPIRED && this.opts.getToken !== undefined);
    this.lost(gen, { code: err.code, reason: err.message, reconnect: retry });
  }

  /** The transport closed by itself. The disconnect push (sent just before the close) is authoritative; else the close code. */
  private closed(gen: number, close: TransportClose): void {
    this.lost(gen, this.lastDisconnect ?? { code: close.code, reason: close.reason, reconnect: mayReconnect(close.code) });
  }

  /**
   * The current connection (or attempt) is over: fail what was in flight, then reconnect
   * with backoff unless told not to.
   */
  private lost(gen: number, d: DisconnectInfo): void {
    if (gen !== this.generation) return;
    const wasConnected = this.state === "connected";
    this.teardown(ClientErrorCode.CONNECTION_CLOSED, "connection closed");
    if (!d.reconnect) return this.stop(d, ClientErrorCode.NOT_CONNECTED);
    if (this.opts.transport === "auto") this.fallBack();
    this.setState("connecting");
    if (wasConnected) this.emit("disconnected", d);
    const delay = backoffDelay(this.attempts++, this.opts.minReconnectDelay ?? 500, this.opts.maxReconnectDelay ?? 20_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.attempt();
    }, delay);
  }

  /**
   * "auto": WebSocket -> SSE -> long-poll, each step for good, when the current transport
   * failed to open often enough in a row.
   */
  private fallBack(): void {
    const next =
      this.mode === "websocket" && this.wsFailures >= (this.opts.sseFallbackAfter ?? 2)
        ? "sse"
        : this.mode === "sse" && this.streamFailures >= (this.opts.longPollFallbackAfter ?? 2)
          ? "longpoll"
          : null;
    if (!next) return;
    this.mode = next;
    this.streamFailures = 0;
    // What waits in the outbox goes on the new transport: it carries commands too.
  }

  /** Final: no more reconnects until connect(). */
  private stop(d: DisconnectInfo, code: number): void {
    const wasConnectedOrTrying = this.state !== "disconnected";
    this.teardown(code, d.reason || "disconnected");
    this.commands.failOutbox(new RealtimeError(code, `disconnected: ${d.reason}`));
    this.setState("disconnected");
    if (wasConnectedOrTrying) this.emit("disconnected", d);
  }

  /** Closes the transport and clears everything tied to the current connection. */
  private teardown(code: number, message: string): void {
    this.generation++;
    for (const t of [this.reconnectTimer, this.livenessTimer, this.refreshTimer]) if (t) clearTimeout(t);
    this.reconnectTimer = this.livenessTimer = this.refreshTimer = null;
    this.ws?.close();
    this.stream?.close();
    this.ws = null;
    this.stream = null;
    this.streamPlaces = null;
    this.clientId = "";
    this.transport = null;
    this.pingSeconds = 0;
    this.commands.failSent(code, message);
    for (const sub of this.subs.values()) sub.suspend();
  }

  /** A connection that stopped hearing the hub's pings is dead, whatever the socket says. */
  private armLiveness(gen: number): void {
    if (!this.pingSeconds) return;
    const limit = this.pingSeconds * 1000 + (this.opts.maxServerPingDelay ?? 10_000);
    const check = () => {
      if (gen !== this.generation) return;
      const silent = Date.now() - this.lastReceived;
      if (silent >= limit) return this.lost(gen, { code: 0, reason: "no ping from the hub", reconnect: true });
      this.livenessTimer = setTimeout(check, limit - silent);
    };
    this.livenessTimer = setTimeout(check, limit);
  }

  /** Refreshes an expiring connection token in place (a `refresh` command, on every transport). */
  private scheduleRefresh(gen: number, ttl: number): void {
    if (!ttl || !this.opts.getToken) return;
    const getToken = this.opts.getToken;
    // 80% of what is left; a floor above that would plan the refresh after the expiry.
    const delay = ttl * 800;
    this.refreshTimer = setTimeout(() => void this.refresh(gen, getToken), delay);
  }

  /** One token refresh of connection `gen`; failures are reported and retried, never thrown. */
  private async refresh(gen: number, getToken: NonNullable<ClientOptions["getToken"]>): Promise<void> {
    if (gen !== this.generation) return;
    try {
      const token = await getToken();
      if (gen !== this.generation) return;
      const r = (await this.commands.exchange("refresh", { token }, this.commandsOpen())) as { ttl?: number };
      this.scheduleRefresh(gen, r.ttl ?? 0);
    } catch (err) {
      if (gen !== this.generation) return;
      const e = err instanceof RealtimeError ? err : new RealtimeError(ClientErrorCode.TOKEN, `token refresh failed: ${describe(err)}`, true);
      this.emit("error", e);
      // Try again soon; if the token runs out first the hub closes with "expired" and the
      // reconnect fetches a new one.
      if (e.temporary || e.code < 100) this.scheduleRefresh(gen, 5);
    }
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Subscribes `subs` on the current connection, in order, then runs `after`. Synchronous
   * unless a subscription must fetch its token first: then every subscribe (and `after`)
   * waits for the tokens, so the order of commands stays the order of calls.
   */
  private sendSubscribes(subs: SubscriptionControl[], gen: number, after?: () => void): void {
    const tokens = subs.map((sub) => sub.token());
    const send = (resolved: Array<string | undefined>) => {
      if (gen !== this.generation) return;
      subs.forEach((sub, i) => {
        if (this.subs.get(sub.channel) !== sub) return;
        this.commands.send("subscribe", sub.subscribeBody(resolved[i]), true, (err, r) => {
          if (err) this.subscribeFailed(sub, gen, err);
          else if (gen === this.generation && this.subs.get(sub.channel) === sub) sub.subscribed(subscribeResult(r), false);
        });
      });
      after?.();
    };
    if (!tokens.some((t) => t instanceof Promise)) return send(tokens as Array<string | undefined>);
    void Promise.all(
      tokens.map((t, i) =>
        Promise.resolve(t).catch((err: unknown) => {
          subs[i]!.retrying(tokenFailed(err));
          return undefined; // subscribe without: the hub says why that is not enough
        }),
      ),
    ).then(send);
  }

  private subscribeFailed(sub: SubscriptionControl, gen: number, err: RealtimeError): void {
    if (gen !== this.generation || this.subs.get(sub.channel) !== sub) return; // resubscribed on the next connection
    if (err.code === ErrorCode.UNRECOVERABLE_POSITION) {
      sub.resetPosition();
      this.resubscribe(sub, gen);
    } else if (err.temporary || err.code === ClientErrorCode.TIMEOUT || err.code === ErrorCode.TOO_MANY_REQUESTS) {
      sub.retrying(err);
      setTimeout(
        () => this.resubscribe(sub, gen),
        backoffDelay(2, this.opts.minReconnectDelay ?? 500, this.opts.maxReconnectDelay ?? 20_000),
      );
    } else {
      this.subs.delete(sub.channel);
      sub.failed(err);
    }
  }

  /** Subscribes again on the same connection, or reopens a stream whose commands cannot go out yet. */
  private resubscribe(sub: SubscriptionControl, gen: number): void {
    if (gen !== this.generation || this.subs.get(sub.channel) !== sub) return;
    if (this.mode !== "websocket" && !this.commandsOpen()) this.streamSubscriptionsChanged();
    else this.sendSubscribes([sub], gen);
  }

  /** Removes a subscription (unsubscribe(), or the hub's unsubscribe push). */
  private async release(sub: SubscriptionControl, tellHub: boolean): Promise<void> {
    if (this.subs.get(sub.channel) !== sub) return;
    this.subs.delete(sub.channel);
    if (this.mode !== "websocket" && !this.commandsOpen()) return this.streamSubscriptionsChanged();
    if (!tellHub || !this.commandsOpen()) return; // the next connection simply does not subscribe
    try {
      await this.commands.exchange("unsubscribe", { channel: sub.channel }, true);
    } catch (err) {
      // Not subscribed (yet) or the connection dropped: either way the hub forgets us.
      if (err instanceof RealtimeError && (err.code === ErrorCode.NOT_SUBSCRIBED || err.code < 100)) return;
      throw err;
    }
  }

  /** A stream not yet taking commands subscribes in its URL: reopen it (once per turn) with the new channel set. */
  private streamSubscriptionsChanged(): void {
    if (this.state === "disconnected" || this.reconnectTimer || this.streamReopenScheduled) return;
    this.streamReopenScheduled = true;
    queueMicrotask(() => {
      this.streamReopenScheduled = false;
      if (this.state === "disconnected" || this.reconnectTimer) return;
      this.teardown(ClientErrorCode.CONNECTION_CLOSED, "reopening the event stream");
      this.setState("connecting");
      void this.attempt();
    });
  }

  // ---------------------------------------------------------------- incoming frames

  /**
   * One WebSocket frame, SSE event or long-poll answer: JSON replies, one per line.
   * `streamSubs`: the channels of a stream's URL, in order (null on the WebSocket).
   */
  private receive(text: string, streamSubs: SubscriptionControl[] | null): void {
    this.lastReceived = Date.now();
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      let msg: WireReply;
      try {
        msg = JSON.parse(line) as WireReply;
      } catch {
        this.emit("error", new RealtimeError(ClientErrorCode.BAD_FRAME, `malformed frame from the hub: ${line.slice(0, 100)}`));
        continue;
      }
      if (typeof msg !== "object" || msg === null) continue;
      this.dispatch(msg, streamSubs);
    }
  }

  private dispatch(msg: WireReply, streamSubs: SubscriptionControl[] | null): void {
    const gen = this.generation;
    if (msg.id) {
      const places = this.streamPlaces;
      if (streamSubs && places?.delete(msg.id)) {
        // A stream subscribes on our behalf: reply `id` is the channel's place in the URL.
        const sub = streamSubs[msg.id - 1];
        if (sub && this.subs.get(sub.channel) === sub) {
          if (msg.error) this.subscribeFailed(sub, gen, toError(msg.error));
          else sub.subscribed(subscribeResult(msg.subscribe), true);
        }
        // The last one: what waited goes out, in the order it was made.
        if (places.size === 0 && gen === this.generation && this.commandsOpen()) this.commands.flushOutbox();
        return;
      }
      this.commands.settle(msg.id, msg);
      return;
    }
    if (msg.push) return this.handlePush(msg.push);
    if (msg.connect && streamSubs && this.mode !== "websocket") return this.connected(gen, msg.connect, this.mode);
    if (msg.error) {
      // A stream refused before it connected (long-poll reads the refusal's body): that is
      // the connect failing (a bad token is not retried).
      if (streamSubs && this.state === "connecting") return this.connectFailed(gen, toError(msg.error));
      this.emit("error", toError(msg.error));
      return;
    }
    // `{}` is the hub's ping: answer so it knows we are alive (a stream cannot, and need not).
    if (Object.keys(msg).length === 0 && this.ws && this.state === "connected") {
      this.commands.send("ping", {}, true, () => undefined);
    }
  }


  private handlePush(push: WirePush): void {
    if (push.disconnect) {
      // The close follows; remember why, so the close handler knows whether to come back.
      const code = push.disconnect.code ?? 0;
      this.lastDisconnect = { code, reason: push.disconnect.reason ?? "", reconnect: push.disconnect.reconnect ?? mayReconnect(code) };
      return;
    }
    if (!push.channel) return;
    const sub = this.subs.get(push.channel);
    if (sub) sub.push(push);
    else if (push.pub) this.emit("publication", { channel: push.channel, pub: publication(push.pub) });
  }
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function tokenFailed(err: unknown): RealtimeError {
  return new RealtimeError(ClientErrorCode.TOKEN, `getToken failed: ${describe(err)}`, true, { cause: err });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
