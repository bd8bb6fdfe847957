import type { TokenVerifier } from "./auth/jwt.js";
import type { ChannelEvent } from "./channel-event.js";
import type { NamespaceOptions } from "./config.js";
import type { Disconnect } from "./errors.js";
import {
  disconnectSlow,
  errAlreadySubscribed,
  errBadRequest,
  errLimitExceeded,
  errNotSubscribed,
  errPermissionDenied,
  toHubError,
} from "./errors.js";
import type { SubscribeCommand, SubscribeResult } from "./gen/realtime/v1/client.js";
import type { ClientInfo } from "./gen/realtime/v1/types.js";
import { ErrorCode } from "./gen/realtime/v1/types.js";
import type { Subscriber } from "./hub.js";
import type { HubNode } from "./node.js";
import { Frame, publicationFrame } from "./protocol/frame.js";

/** The session these subscriptions belong to, as they see it. */
export interface SubscriptionOwner extends Subscriber {
  readonly user: string;
  /** The connection's ClientInfo (user, client, connInfo). */
  readonly info: ClientInfo;
  readonly closed: boolean;
  /** Writes to the client, or closes it when it has fallen too far behind. */
  write(frame: Frame): void;
  close(d: Disconnect): void;
}

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
    private readonly verifier: TokenVerifier,
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
   * arrives for the channel waits, so the client gets the reply first.
   */
  async subscribe(cmd: SubscribeCommand): Promise<SubscribeResult> {
    const channel = cmd.channel;
    const ns = this.node.options(channel);
    if (this.subs.has(channel)) throw errAlreadySubscribed(channel);
    if (this.subs.size >= this.node.config.maxChannelsPerClient)
      throw errLimitExceeded(`at most ${this.node.config.maxChannelsPerClient} channels per connection`);
    let info = this.owner.info;
    if (ns.private) {
      if (!cmd.token) throw errPermissionDenied(`${JSON.stringify(channel)} is private: a subscription token is required`);
      const claims = await this.verifier.verifySubscribe(cmd.token, this.owner.user, channel);
      info = { ...this.owner.info, chanInfo: claims.chanInfo };
    }
    const sub: Subscription = { ns, info, pending: [], pendingBytes: 0, epoch: "", offset: 0 };
    this.subs.set(channel, sub);
    try {
      // Register before reading history so nothing published meanwhile is missed; what
      // arrives meanwhile waits in `pending` and duplicates of the reply are dropped.
      await this.node.subscribe(channel, this.owner);
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
      if (this.owner.closed) {
        // Closed while joining: releaseAll() ran before the join landed, so undo it here or
        // the presence entry would be refreshed forever.
        await this.node.leave(channel, info, ns);
        throw errBadRequest("connection closed");
      }
      return result;
    } catch (err) {
      if (this.subs.get(channel) === sub) this.subs.delete(channel);
      await this.node.unsubscribe(channel, this.owner);
      throw err;
    }
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
    if (!this.subs.has(channel)) return;
    await this.unsubscribe(channel).catch((err: unknown) =>
      this.node.log.warn({ err, channel, client: this.owner.id }, "undoing a failed subscribe failed"),
    );
  }

  async unsubscribe(channel: string): Promise<void> {
    const sub = this.subs.get(channel);
    if (!sub) throw errNotSubscribed(channel);
    this.subs.delete(channel);
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
        await this.node.unsubscribe(channel, this.owner);
        await this.node.leave(channel, sub.info, sub.ns);
      } catch (err) {
        this.node.log.warn({ err, channel, client: this.owner.id }, "cleanup after disconnect failed");
      }
    }
  }
}
