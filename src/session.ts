import { randomUUID } from "node:crypto";
import type { TokenVerifier } from "./auth/jwt.js";
import type { NamespaceOptions } from "./config.js";
import type {
  Command,
  ConnectCommand,
  ConnectResult,
  HistoryCommand,
  Reply,
  SubscribeCommand,
  SubscribeResult,
} from "./gen/realtime/v1/client.js";
import type { ClientInfo } from "./gen/realtime/v1/types.js";
import {
  Disconnect,
  disconnectBadRequest,
  disconnectExpired,
  disconnectInsufficientState,
  disconnectInvalidToken,
  disconnectNoPong,
  disconnectSlow,
  errAlreadySubscribed,
  errBadRequest,
  errLimitExceeded,
  errMethodNotFound,
  errNotSubscribed,
  errPermissionDenied,
  errUnauthorized,
  toHubError,
} from "./errors.js";
import { ErrorCode } from "./gen/realtime/v1/types.js";
import type { ChannelEvent } from "./channel-event.js";
import type { Subscriber } from "./hub.js";
import type { HubNode } from "./node.js";
import type { ClientSession } from "./sessions.js";
import { CommandDecodeError, decodeCommand, methodOf, splitFrame } from "./transport/codec.js";
import { Frame, publicationFrame } from "./transport/frame.js";
import type { Transport } from "./transport/transport.js";
import { VERSION } from "./version.js";

/** Code of the unsubscribe push when a backend removes a client from a channel. */
export const UNSUBSCRIBE_CODE_SERVER = 2000;
/** Commands queued on one connection before it is closed as abusive. */
export const MAX_PENDING_COMMANDS = 512;
const PING_FRAME = new Frame({ id: 0, error: undefined });

interface Subscription {
  ns: NamespaceOptions;
  info: ClientInfo;
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

type Result = Omit<Reply, "id" | "error">;

/**
 * One client connection's state machine, whatever transport carries it: connect, then
 * commands in order; pushes written through the transport; closed once.
 */
export class Session implements Subscriber, ClientSession {
  readonly id = randomUUID();
  user = "";
  info: ClientInfo = { user: "", client: this.id, connInfo: Buffer.alloc(0), chanInfo: Buffer.alloc(0) };
  private state: "new" | "connected" | "closed" = "new";
  private readonly subs = new Map<string, Subscription>();
  private chain: Promise<void> = Promise.resolve();
  private pendingCommands = 0;
  private lastSeen = Date.now();
  private expiresAt = 0;
  private readonly connectTimer: NodeJS.Timeout;

  constructor(
    private readonly node: HubNode,
    readonly transport: Transport,
    private readonly verifier: TokenVerifier,
    /** Called once when the session closes (the edge counts connections with it). */
    private readonly onClose?: () => void,
  ) {
    // A connection that never connects must not hold resources forever.
    this.connectTimer = setTimeout(
      () => this.state === "new" && this.close(disconnectBadRequest("connect timeout")),
      node.config.pingIntervalSeconds * 2000,
    );
    this.connectTimer.unref();
  }

  get connected(): boolean {
    return this.state === "connected";
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  get channels(): string[] {
    return [...this.subs.keys()];
  }

  /** One WebSocket text frame: one or more JSON commands, newline-separated. */
  handleFrame(text: string): void {
    this.lastSeen = Date.now();
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
      // Only `{}` decodes without an id: a pong, nothing to answer.
      if (!(cmd instanceof CommandDecodeError) && cmd.id === 0) continue;
      if (++this.pendingCommands > MAX_PENDING_COMMANDS) {
        this.close(disconnectBadRequest("too many commands in flight"));
        return;
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
          result = { subscribe: await this.subscribe(cmd.subscribe!) };
          subscribed = channel;
          after = () => this.flushPending(channel);
          break;
        }
        case "unsubscribe":
          await this.unsubscribe(cmd.unsubscribe!.channel);
          result = { unsubscribe: {} };
          break;
        case "publish":
          result = { publish: await this.publish(cmd.publish!.channel, cmd.publish!.data) };
          break;
        case "presence":
          this.checkReadable(cmd.presence!.channel);
          result = { presence: { presence: await this.node.presence(cmd.presence!.channel) } };
          break;
        case "presenceStats":
          this.checkReadable(cmd.presenceStats!.channel);
          result = { presenceStats: await this.node.presenceStats(cmd.presenceStats!.channel) };
          break;
        case "history":
          result = { history: await this.history(cmd.history!) };
          break;
        case "refresh":
          result = { refresh: await this.refresh(cmd.refresh!.token) };
          break;
        case "ping":
          result = { ping: {} };
          break;
        case "rpc":
          throw errMethodNotFound("rpc needs an RPC proxy, and none is configured");
      }
      if (this.closed) return;
      const reply = new Frame({ id: cmd.id, error: undefined, ...result });
      // Encoded here, not in the transport: a reply that cannot be encoded fails its command
      // (below) instead of leaving the client subscribed without knowing it.
      reply.json();
      this.write(reply);
      after?.();
    } catch (err) {
      if (subscribed !== undefined) await this.dropSubscription(subscribed);
      const e = toHubError(err);
      if (e.code === ErrorCode.ERROR_CODE_INTERNAL) this.node.log.error({ err, client: this.id }, "command failed");
      this.write(new Frame({ id: cmd.id, error: e.toWire() }));
      if (cmd.connect && e.code === ErrorCode.ERROR_CODE_UNAUTHORIZED) this.close(disconnectInvalidToken(e.message));
    }
  }

  /** Authenticates the connection (WebSocket connect command, SSE and long-poll query). */
  async connect(cmd: Pick<ConnectCommand, "token">): Promise<ConnectResult> {
    if (this.state !== "new") throw errBadRequest("already connected");
    const cfg = this.node.config;
    let ttl = 0;
    if (cmd.token) {
      const claims = await this.verifier.verifyConnect(cmd.token);
      this.user = claims.user;
      this.info = { ...this.info, user: claims.user, connInfo: claims.connInfo };
      if (claims.expiresAt) {
        this.expiresAt = claims.expiresAt * 1000;
        ttl = secondsLeft(claims.expiresAt);
      }
    } else if (!cfg.allowAnonymous) {
      throw errUnauthorized("token required");
    }
    if ((this.state as string) !== "new") throw errBadRequest("connection closed");
    clearTimeout(this.connectTimer);
    this.state = "connected";
    this.node.register(this);
    return { client: this.id, version: VERSION, ping: cfg.pingIntervalSeconds, ttl, data: Buffer.alloc(0), node: this.node.id };
  }

  async subscribe(cmd: SubscribeCommand): Promise<SubscribeResult> {
    const channel = cmd.channel;
    const ns = this.node.options(channel);
    if (this.subs.has(channel)) throw errAlreadySubscribed(channel);
    if (this.subs.size >= this.node.config.maxChannelsPerClient)
      throw errLimitExceeded(`at most ${this.node.config.maxChannelsPerClient} channels per connection`);
    let info = this.info;
    if (ns.private) {
      if (!cmd.token) throw errPermissionDenied(`${JSON.stringify(channel)} is private: a subscription token is required`);
      const claims = await this.verifier.verifySubscribe(cmd.token, this.user, channel);
      info = { ...this.info, chanInfo: claims.chanInfo };
    }
    const sub: Subscription = { ns, info, pending: [], pendingBytes: 0, epoch: "", offset: 0 };
    this.subs.set(channel, sub);
    try {
      // Register before reading history so nothing published meanwhile is missed; what
      // arrives meanwhile waits in `pending` and duplicates of the reply are dropped.
      await this.node.subscribe(channel, this);
      const result: SubscribeResult = {
        recoverable: ns.historySize > 0,
        epoch: "",
        offset: "0",
        recovered: false,
        publications: [],
        wasRecovering: cmd.recover,
      };
      if (ns.historySize > 0) {
        if (cmd.recover) {
          const r = await this.node.recover(channel, { offset: cmd.offset, epoch: cmd.epoch });
          result.epoch = r.position.epoch;
          result.offset = r.position.offset;
          result.publications = r.publications;
          result.recovered = r.recovered;
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
      if (this.closed) {
        // Closed while joining: release() ran before the join landed, so undo it here or the
        // presence entry would be refreshed forever.
        await this.node.leave(channel, info, ns);
        throw errBadRequest("connection closed");
      }
      return result;
    } catch (err) {
      if (this.subs.get(channel) === sub) this.subs.delete(channel);
      await this.node.unsubscribe(channel, this);
      throw err;
    }
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
      for (const f of frames) this.write(f);
      this.flushPending(cmd.channel);
    } catch (err) {
      if (subscribed) await this.dropSubscription(cmd.channel);
      const e = toHubError(err);
      if (e.code === ErrorCode.ERROR_CODE_INTERNAL) this.node.log.error({ err, client: this.id }, "subscribe failed");
      this.write(new Frame({ id, error: e.toWire() }));
    }
  }

  /** Undoes a subscription whose reply could not be sent, so subscribing again works. */
  private async dropSubscription(channel: string): Promise<void> {
    if (!this.subs.has(channel)) return;
    await this.unsubscribe(channel).catch((err: unknown) =>
      this.node.log.warn({ err, channel, client: this.id }, "undoing a failed subscribe failed"),
    );
  }

  private flushPending(channel: string): void {
    const sub = this.subs.get(channel);
    if (!sub?.pending) return;
    const frames = sub.pending;
    sub.pending = null;
    for (const f of frames) if (advance(sub, f)) this.write(f);
  }

  async unsubscribe(channel: string): Promise<void> {
    const sub = this.subs.get(channel);
    if (!sub) throw errNotSubscribed(channel);
    this.subs.delete(channel);
    await this.node.unsubscribe(channel, this);
    await this.node.leave(channel, sub.info, sub.ns);
  }

  private async publish(channel: string, data: Buffer) {
    const ns = this.node.options(channel);
    if (!ns.allowPublish) throw errPermissionDenied(`clients may not publish into ${JSON.stringify(channel)}`);
    if (ns.private && !this.subs.has(channel)) throw errPermissionDenied("subscribe to a private channel before publishing");
    if (data.length === 0) throw errBadRequest("data is required");
    return this.node.publish(channel, data, { info: this.subs.get(channel)?.info ?? this.info });
  }

  private checkReadable(channel: string): NamespaceOptions {
    const ns = this.node.options(channel);
    if (ns.private && !this.subs.has(channel)) throw errPermissionDenied(`subscribe to ${JSON.stringify(channel)} first`);
    return ns;
  }

  private async history(cmd: HistoryCommand) {
    const ns = this.checkReadable(cmd.channel);
    const limit = Math.min(Math.max(cmd.limit, 0), ns.historySize);
    const r = await this.node.history(cmd.channel, { since: cmd.since, limit, reverse: cmd.reverse });
    return { publications: r.publications, epoch: r.position.epoch, offset: r.position.offset };
  }

  private async refresh(token: string) {
    const claims = await this.verifier.verifyConnect(token);
    if (claims.user !== this.user) throw errPermissionDenied("token is for another user");
    this.expiresAt = claims.expiresAt * 1000;
    return { ttl: claims.expiresAt ? secondsLeft(claims.expiresAt) : 0 };
  }

  /** Hub subscriber: an event of a channel this client is in. Never blocks. */
  deliver(event: ChannelEvent): void {
    const sub = this.subs.get(event.channel);
    if (!sub) return;
    const frame = event.frame;
    if (sub.pending) {
      sub.pending.push(frame);
      sub.pendingBytes += frame.json().length;
      if (sub.pendingBytes > this.node.config.clientQueueMaxBytes) this.close(disconnectSlow);
    } else if (advance(sub, frame)) this.write(frame);
  }

  /** Writes a frame unless the client has fallen too far behind, which closes it instead. */
  write(frame: Frame): void {
    if (this.state === "closed") return;
    if (this.transport.queuedBytes() > this.node.config.clientQueueMaxBytes) {
      this.close(disconnectSlow);
      return;
    }
    this.transport.write(frame);
  }

  /** Periodic check from the node: ping, pong timeout, token expiry. */
  tick(now: number): void {
    if (this.state !== "connected") return;
    if (this.expiresAt && now > this.expiresAt) return this.close(disconnectExpired);
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
    if (!this.subs.has(channel)) return;
    this.unsubscribe(channel).then(
      () =>
        this.write(
          new Frame({ id: 0, error: undefined, push: { channel, unsubscribe: { code: UNSUBSCRIBE_CODE_SERVER, reason: "unsubscribed by the server" } } }),
        ),
      (err: unknown) => this.node.log.warn({ err, channel }, "server unsubscribe failed"),
    );
  }

  /** Closes once: releases everything, then tells the client why (when the transport can). */
  close(d: Disconnect): void {
    if (this.state === "closed") return;
    const wasConnected = this.state === "connected";
    this.state = "closed";
    clearTimeout(this.connectTimer);
    // Bookkeeping first: a transport that throws on close must not leave the session in the
    // hub or its presence behind, and callers looping over sessions (shutdown) must go on.
    if (wasConnected) this.node.unregister(this);
    void this.release();
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

  private async release(): Promise<void> {
    const subs = [...this.subs];
    this.subs.clear();
    for (const [channel, sub] of subs) {
      try {
        await this.node.unsubscribe(channel, this);
        await this.node.leave(channel, sub.info, sub.ns);
      } catch (err) {
        this.node.log.warn({ err, channel, client: this.id }, "cleanup after disconnect failed");
      }
    }
  }
}

/**
 * Whole seconds a token has left, rounded down: JWT `exp` has one-second resolution, so
 * rounding the current time down instead would tell the client up to a second more than it
 * has, and a refresh planned from it could come after the hub closed the connection.
 */
function secondsLeft(expiresAt: number): number {
  return Math.max(1, Math.floor(expiresAt - Date.now() / 1000));
}
