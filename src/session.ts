import { randomUUID } from "node:crypto";
import type { TokenVerifier } from "./auth/jwt.js";
import type { ChannelEvent } from "./channel-event.js";
import type { Timer } from "./clock.js";
import {
  Disconnect,
  disconnectBadRequest,
  disconnectExpired,
  disconnectInsufficientState,
  disconnectInvalidToken,
  disconnectNoPong,
  disconnectSlow,
  errBadRequest,
  errUnauthorized,
  toHubError,
} from "./errors.js";
import type { Command, ConnectCommand, ConnectResult, Reply, SubscribeCommand } from "./gen/realtime/v1/client.js";
import type { ProxyContext } from "./gen/realtime/v1/proxy.js";
import type { ClientInfo } from "./gen/realtime/v1/types.js";
import { ErrorCode, UnsubscribeCode } from "./gen/realtime/v1/types.js";
import type { Subscriber } from "./hub.js";
import type { HubNode } from "./node.js";
import * as commands from "./session-commands.js";
import type { CommandContext } from "./session-commands.js";
import { SessionSubscriptions } from "./session-subscriptions.js";
import { authenticate } from "./session-connect.js";
import { ConnectionExpiry } from "./connection-expiry.js";
import { ClientRates, disconnectFlood, rateError } from "./client-rates.js";
import type { ClientSession } from "./sessions.js";
import { countCode, type TransportTraffic } from "./node-counters.js";
import { CommandDecodeError, decodeCommand, methodOf, splitFrame } from "./protocol/codec.js";
import { Frame } from "./protocol/frame.js";
import type { AskKind, RequestOf, ResultOf } from "./proxy/calls.js";
import type { Endpoint } from "./proxy/endpoint.js";
import { ProxyDisconnect, type Proxy } from "./proxy/proxy.js";
import { NO_REQUEST, type ConnectionRequest, type Transport } from "./transport.js";
import { VERSION } from "./version.js";

/** Commands queued on one connection before it is closed as abusive. */
export const MAX_PENDING_COMMANDS = 512;
const PING_FRAME = new Frame({ id: 0, error: undefined });

type Result = Omit<Reply, "id" | "error">;

/**
 * One client connection's state machine, whatever transport carries it: connect, then
 * commands in order; pushes written through the transport; closed once.
 */
export class Session implements Subscriber, ClientSession, CommandContext {
  readonly id = randomUUID();
  user = "";
  info: ClientInfo = { user: "", client: this.id, connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) };
  private state: "new" | "connected" | "closed" = "new";
  readonly subscriptions: SessionSubscriptions;
  private readonly expiry: ConnectionExpiry;
  private chain: Promise<void> = Promise.resolve();
  private pendingCommands = 0;
  private lastSeen: number;
  private readonly connectTimer: Timer;
  /** Opaque bytes the connect webhook asked the hub to keep and send back on each call. */
  private meta: Buffer = Buffer.alloc(0);
  /** clientCommandRate and clientPublishRate, from the first frame on. */
  private rates: ClientRates | undefined;
  /** This transport's counts (realtime_messages_in_total, realtime_messages_out_total). */
  private readonly traffic: TransportTraffic;

  constructor(
    readonly node: HubNode,
    readonly transport: Transport,
    readonly verifier: TokenVerifier,
    /** Called once when the session closes (the edge counts connections with it). */
    private readonly onClose?: () => void,
    /** What the request that opened the connection carried, for webhooks. */
    private readonly request: ConnectionRequest = NO_REQUEST,
  ) {
    this.subscriptions = new SessionSubscriptions(this, node);
    this.traffic = node.counters.transports[transport.name];
    this.expiry = new ConnectionExpiry(this, node.log);
    // A connection that never connects must not hold resources forever.
    this.lastSeen = node.clock.now();
    this.connectTimer = node.clock.setTimeout(
      () => this.state === "new" && this.close(disconnectBadRequest("connect timeout")),
      node.config.pingIntervalSeconds * 2000,
    );
  }

  get connected(): boolean {
    return this.state === "connected";
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  get channels(): string[] {
    return this.subscriptions.channels;
  }

  get proxy(): Proxy {
    return this.node.proxy;
  }

  /** Who is asking, in every webhook request for this connection. */
  proxyContext(): ProxyContext {
    const r = this.request;
    return {
      client: this.id,
      user: this.user,
      transport: this.transport.name === "longpoll" ? "poll" : this.transport.name,
      protocol: "json",
      node: this.node.id,
      remoteAddr: r.remoteAddr,
      origin: r.origin,
      headers: { ...r.headers },
      cookies: { ...r.cookies },
      meta: this.meta,
    };
  }

  /** Asks the app; an answer that says `disconnect` closes this connection. */
  async ask<K extends AskKind>(kind: K, ep: Endpoint, request: RequestOf<K>): Promise<ResultOf<K>> {
    try {
      return await this.node.proxy.ask(kind, ep, request);
    } catch (err) {
      if (err instanceof ProxyDisconnect) this.close(err.disconnect);
      throw err;
    }
  }

  setExpiry(expiresAtMs: number): void {
    this.expiry.set(expiresAtMs);
  }

  /** One WebSocket text frame: one or more JSON commands, newline-separated. */
  handleFrame(text: string): void {
    const now = this.node.clock.now();
    this.lastSeen = now;
    const rates = (this.rates ??= new ClientRates(this.node.config, now));
    for (const line of splitFrame(text)) {
      let cmd: Command | CommandDecodeError;
      try {
        cmd = decodeCommand(line);
      } catch (err) {
        if (!(err instanceof CommandDecodeError) || err.commandId === 0) {
          // Without an id the client cannot match a reply: it is broken, so tell it why, then close.
          const e = err instanceof CommandDecodeError ? err : errBadRequest("invalid command");
          this.write(new Frame({ id: 0, error: e.toWire() }));
          this.close(disconnectBadRequest(e.message));
          return;
        }
        cmd = err;
      }
      this.traffic.in++;
      // Only `{}` decodes without an id: a pong, nothing to answer.
      if (!(cmd instanceof CommandDecodeError) && cmd.id === 0) continue;
      if (++this.pendingCommands > MAX_PENDING_COMMANDS) {
        this.close(disconnectBadRequest("too many commands in flight"));
        return;
      }
      const verdict = rates.check(!(cmd instanceof CommandDecodeError) && cmd.publish !== undefined, now);
      if (verdict !== "ok") this.node.counters.limitRefusals[verdict]++;
      if (verdict === "rate_flood") return this.close(disconnectFlood);
      if (verdict !== "ok") {
        // Answered in its turn, like any command, without running.
        const refused = new Frame({ id: cmd instanceof CommandDecodeError ? cmd.commandId : cmd.id, error: rateError(verdict, this.node.config).toWire() });
        this.chain = this.chain.then(() => {
          this.pendingCommands--;
          this.write(refused);
        });
        continue;
      }
      // A line that did not decode is answered in its turn, so replies keep the order of the lines.
      const next = cmd;
      this.chain = this.chain.then(() => (next instanceof CommandDecodeError ? this.answerError(next) : this.execute(next)));
    }
  }

  /** The reply to a line that had an id but did not decode. */
  private answerError(e: CommandDecodeError): void {
    this.pendingCommands--;
    this.write(new Frame({ id: e.commandId, error: e.toWire() }));
  }

  private async execute(cmd: Command): Promise<void> {
    this.pendingCommands--;
    if (this.state === "closed") return;
    let after: (() => void) | undefined;
    /** The channel this command subscribed to, until its reply is out. */
    let subscribed: string | undefined;
    try {
      const method = methodOf(cmd);
      if (method !== "connect" && this.state !== "connected") throw errUnauthorized("connect first");
      let result: Result;
      switch (method) {
        case "connect":
          result = { connect: await this.connect(cmd.connect!) };
          break;
        case "subscribe": {
          const channel = cmd.subscribe!.channel;
          result = { subscribe: await this.subscriptions.subscribe(cmd.subscribe!) };
          subscribed = channel;
          after = () => this.subscriptions.flush(channel);
          break;
        }
        case "unsubscribe":
          await this.subscriptions.unsubscribe(cmd.unsubscribe!.channel);
          result = { unsubscribe: {} };
          break;
        case "publish":
          result = { publish: await commands.publish(this, cmd.publish!.channel, cmd.publish!.data) };
          break;
        case "presence":
          result = { presence: await commands.presence(this, cmd.presence!.channel) };
          break;
        case "presenceStats":
          result = { presenceStats: await commands.presenceStats(this, cmd.presenceStats!.channel) };
          break;
        case "history":
          result = { history: await commands.history(this, cmd.history!) };
          break;
        case "refresh":
          result = { refresh: await commands.refresh(this, cmd.refresh!.token) };
          break;
        case "subRefresh":
          result = { subRefresh: await this.subscriptions.refresh(cmd.subRefresh!.channel, cmd.subRefresh!.token) };
          break;
        case "ping":
          result = { ping: {} };
          break;
        case "rpc":
          result = { rpc: await commands.rpc(this, cmd.rpc!.method, cmd.rpc!.data) };
          break;
      }
      if (this.closed) return;
      const reply = new Frame({ id: cmd.id, error: undefined, ...result });
      // Encoded here, not in the transport: a reply that cannot be encoded fails its command
      // (below) instead of leaving the client subscribed without knowing it.
      reply.json();
      this.write(reply);
      after?.();
    } catch (err) {
      if (subscribed !== undefined) await this.subscriptions.drop(subscribed);
      // The app closed the connection (ask() did): there is nobody to answer.
      if (err instanceof ProxyDisconnect) return;
      const e = toHubError(err);
      if (e.code === ErrorCode.ERROR_CODE_INTERNAL) this.node.log.error({ err, client: this.id }, "command failed");
      this.write(new Frame({ id: cmd.id, error: e.toWire() }));
      if (cmd.connect && e.code === ErrorCode.ERROR_CODE_UNAUTHORIZED) this.close(disconnectInvalidToken(e.message));
    }
  }

  /**
   * Authenticates the connection (WebSocket connect command, SSE and long-poll query): by its
   * token, else by the connect webhook when there is one, else as anonymous when allowed.
   * Channels the webhook subscribes the client to are held until the caller has written the
   * reply (it must write it as soon as this resolves).
   */
  async connect(cmd: Partial<ConnectCommand>): Promise<ConnectResult> {
    if (this.state !== "new") throw errBadRequest("already connected");
    const cfg = this.node.config;
    const id = await authenticate(this, cfg.allowAnonymous, cmd);
    this.user = id.user;
    this.info = { ...this.info, user: id.user, connInfo: id.connInfo };
    this.meta = id.meta;
    this.expiry.set(id.expiresAt, id.by);
    // Also before the slot is taken: close() gives back a slot taken before it, not after.
    if ((this.state as string) !== "new") throw errBadRequest("connection closed");
    const refused = await this.node.userConnections.acquire(this.user, this.id);
    if (refused) {
      // Closed (3505) once the connect's error is out: the caller writes it as soon as this
      // throws, before this runs.
      setImmediate(() => this.close(refused.disconnect));
      throw refused.error;
    }
    if ((this.state as string) !== "new") throw errBadRequest("connection closed");
    this.node.clock.clear(this.connectTimer);
    this.state = "connected";
    this.node.register(this);
    const subs = await this.subscriptions.subscribeForServer(id.serverSubs);
    return { client: this.id, version: VERSION, ping: cfg.pingIntervalSeconds, ttl: id.ttl, data: id.data, node: this.node.id, subs };
  }

  /** Receive-only transports (SSE, long-poll) subscribe on the client's behalf (see SessionSubscriptions). */
  subscribeAndStream(id: number, cmd: SubscribeCommand): Promise<void> {
    return this.subscriptions.subscribeAndStream(id, cmd);
  }

  /** Hub subscriber: an event of a channel this client is in. Never blocks. */
  deliver(event: ChannelEvent): void {
    this.subscriptions.deliver(event);
  }

  /** Writes a frame unless the client has fallen too far behind, which closes it instead. */
  write(frame: Frame): void {
    if (this.state === "closed") return;
    if (this.transport.queuedBytes() > this.node.config.clientQueueMaxBytes) {
      this.close(disconnectSlow);
      return;
    }
    this.transport.write(frame);
    this.traffic.out++;
    if (frame.reply.error) countCode(this.node.counters.clientErrors, frame.reply.error.code);
  }

  /** Periodic check from the node: ping, pong timeout, expiry and refresh of the connection and its subscriptions. */
  tick(now: number): void {
    if (this.state !== "connected") return;
    const lead = this.node.config.pingIntervalSeconds * 1000;
    if (this.expiry.tick(now, lead)) return this.close(disconnectExpired);
    this.subscriptions.tick(now, lead);
    if (this.transport.bidirectional && now - this.lastSeen > this.node.config.pingIntervalSeconds * 2000)
      return this.close(disconnectNoPong);
    this.write(PING_FRAME);
  }

  disconnect(d: Disconnect): void {
    this.close(d);
  }

  /** The node lost publications of `channel` history cannot give back: reconnect and recover. */
  lost(_channel: string): void {
    this.close(disconnectInsufficientState);
  }

  serverUnsubscribe(channel: string): void {
    this.subscriptions.end(channel, UnsubscribeCode.UNSUBSCRIBE_CODE_SERVER, "unsubscribed by the server");
  }

  setConnInfo(info: Buffer): void {
    this.info = { ...this.info, connInfo: info };
  }

  /** Tells the app (disconnect webhook) that this connection closed, in the background. */
  private notifyDisconnect(d: Disconnect): void {
    try {
      const ep = this.node.proxy.endpoint("disconnect");
      if (ep) this.node.proxy.notify("disconnect", ep, { context: this.proxyContext(), code: d.code, reason: d.reason, channels: this.channels, time: String(Date.now()) });
    } catch (err) {
      this.node.log.error({ err, client: this.id }, "queueing the disconnect notification failed");
    }
  }

  /** Closes once: releases everything, then tells the client why (when the transport can). */
  close(d: Disconnect): void {
    if (this.state === "closed") return;
    const wasConnected = this.state === "connected";
    this.state = "closed";
    countCode(this.node.counters.disconnects, d.code);
    this.node.clock.clear(this.connectTimer);
    this.node.userConnections.release(this.user, this.id);
    // Bookkeeping first: a transport that throws on close must not leave the session in the
    // hub or its presence behind, and callers looping over sessions (shutdown) must go on.
    if (wasConnected) {
      this.node.unregister(this);
      this.notifyDisconnect(d);
    }
    void this.subscriptions.releaseAll();
    try {
      this.onClose?.();
    } catch (err) {
      this.node.log.error({ err, client: this.id }, "close hook failed");
    }
    try {
      this.transport.close(d);
    } catch (err) {
      this.node.log.error({ err, client: this.id, transport: this.transport.name }, "closing the transport failed");
    }
  }
}
