import type { ServerResponse } from "node:http";
import type { ChannelEvent } from "../channel-event.js";
import type { Publication, StreamPosition } from "../gen/realtime/v1/types.js";
import type { Subscriber } from "../hub.js";
import { anyMatches } from "../mercure/selectors.js";
import { FIREHOSE_CHANNEL, topicToChannel } from "../mercure/topic-channel.js";
import { sseEvent, updateOf } from "../mercure/update.js";
import type { HubNode } from "../node.js";

let streams = 0;

/**
 * One Mercure subscriber (GET /.well-known/mercure): subscribed on this node to the channel of
 * each exact topic it asked for, and to the firehose when it asked for `*` or URI templates
 * (keeping the updates whose topics match one), it writes every update it may see as an SSE
 * event. An update arrives once per channel it was published in (one per topic, plus the
 * firehose); it is written once: from the channel of its first topic this stream follows
 * exactly, else from the firehose. Private updates need a `mercure.subscribe` selector
 * matching one of their topics.
 */
export class MercureStream implements Subscriber {
  readonly id = `mercure-${++streams}`;
  /** What arrived while history was read: sent after it, minus what history already gave. */
  private pending: ChannelEvent[] | null = [];
  /** Per channel, the top of its history when it was read: live events up to it are duplicates. */
  private readonly readTop = new Map<string, StreamPosition>();
  private readonly subscribed: string[] = [];
  /** Every channel this stream follows: the exact ones, and the firehose when there are patterns. */
  private readonly channels: readonly string[];
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly node: HubNode,
    /** The channels of the exact topics asked for. */
    private readonly exact: ReadonlySet<string>,
    /** The `*` and URI template selectors asked for (see mercure/selectors.ts); empty: none. */
    private readonly patterns: readonly string[],
    /** The JWT's mercure.subscribe selectors; empty: public updates only. */
    private readonly allowed: readonly string[],
    private readonly onClose: (s: MercureStream) => void,
  ) {
    this.channels = patterns.length > 0 ? [...exact, FIREHOSE_CHANNEL] : [...exact];
    node.counters.transports.mercure.streams++;
  }

  /**
   * Subscribes, replays what followed `lastEventId` from history, then streams. Until the
   * stream starts a failure is thrown (a plain HTTP error); the caller closes the stream.
   */
  async start(lastEventId: string | undefined): Promise<void> {
    // Subscribed before history is read, so nothing published meanwhile is missed.
    for (const c of this.channels) {
      await this.node.subscribe(c, this);
      this.subscribed.push(c);
      this.node.counters.transports.mercure.subscriptions++;
      if (this.closed) return;
    }
    const replay = await this.readHistory(lastEventId);
    if (this.closed) return;
    this.res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    this.res.socket?.setNoDelay(true);
    // A comment first: an EventSource (and proxies) see the stream open before the first update.
    this.res.write(":\n\n");
    for (const [channel, pub] of replay) this.send(channel, pub);
    const pending = this.pending ?? [];
    this.pending = null;
    for (const e of pending) {
      const top = this.readTop.get(e.channel);
      const dup = top && e.publication && e.publication.epoch === top.epoch && Number(e.publication.offset) <= Number(top.offset);
      if (!dup && e.publication) this.send(e.channel, e.publication);
    }
    // Idle streams get a comment now and then, or proxies and load balancers cut them.
    const every = this.node.config.pingIntervalSeconds * 1000;
    this.heartbeat = setInterval(() => this.write(":\n\n"), every).unref();
  }

  /**
   * What followed the update `lastEventId` in the history of every channel, oldest first. A
   * channel whose history does not hold that update gives what was published from its time
   * on; when no channel holds it (too old, or unknown) nothing is replayed, as the reference
   * hub does. Also records each channel's position (ordered delivery starts from it).
   */
  private async readHistory(lastEventId: string | undefined): Promise<[string, Publication][]> {
    const read = new Map<string, Publication[]>();
    for (const c of this.channels) {
      const ns = this.node.options(c);
      if (ns.historySize <= 0) continue;
      const r = await this.node.history(c, { limit: lastEventId ? ns.historySize : 0, ttlSeconds: ns.historyTtlSeconds });
      this.readTop.set(c, r.position);
      this.node.notePosition(c, r.position);
      read.set(c, r.publications);
    }
    if (!lastEventId) return [];
    const isLast = (p: Publication) => updateOf(p)?.id === lastEventId;
    const last = [...read.values()].flat().find(isLast);
    if (!last) return [];
    const out: [string, Publication][] = [];
    for (const [c, pubs] of read) {
      const i = pubs.findIndex(isLast);
      const after = i >= 0 ? pubs.slice(i + 1) : pubs.filter((p) => Number(p.time) >= Number(last.time) && !isLast(p));
      for (const p of after) out.push([c, p]);
    }
    // Stable: one channel's publications stay in offset order when their times tie.
    return out.sort((a, b) => Number(a[1].time) - Number(b[1].time));
  }

  deliver(event: ChannelEvent): void {
    if (this.closed || !event.publication) return;
    if (this.pending) this.pending.push(event);
    else this.send(event.channel, event.publication);
  }

  /** The node lost publications: ending the stream makes the EventSource come back with Last-Event-ID, and history fills the gap. */
  lost(): void {
    this.close();
  }

  private send(channel: string, pub: Publication): void {
    const u = updateOf(pub);
    if (!u) return;
    if (u.private && !anyMatches(this.allowed, u.topics)) return;
    // Once per stream: an update in a channel followed exactly comes from there (the first
    // one); only an update in none of them comes from the firehose, and only if it matches.
    const exact = u.topics.map(topicToChannel).find((c) => this.exact.has(c));
    if (exact !== undefined ? channel !== exact : channel !== FIREHOSE_CHANNEL || !anyMatches(this.patterns, u.topics)) return;
    this.write(sseEvent(u));
  }

  private write(text: string): void {
    if (this.closed || this.res.writableEnded || this.res.destroyed) return;
    this.res.write(text);
    this.node.counters.transports.mercure.out++;
    // A subscriber that does not read would hold the node's memory: cut it, it resumes later.
    if (this.res.writableLength > this.node.config.clientQueueMaxBytes) this.close();
  }

  /** Ends the stream (the client left, the node lost publications, shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.pending = null;
    this.node.counters.transports.mercure.streams--;
    this.node.counters.transports.mercure.subscriptions -= this.subscribed.length;
    // Nobody is left to tell of a failed broker unsubscribe: the stream is gone either way.
    for (const c of this.subscribed) this.node.unsubscribe(c, this).catch(() => undefined);
    if (this.res.headersSent && !this.res.writableEnded) this.res.end();
    this.onClose(this);
  }
}
