import type { Logger } from "pino";
import { ChannelEvent } from "./channel-event.js";
import type { Clock } from "./clock.js";
import { ChannelOrder } from "./channel-order.js";
import type { Publication, StreamPosition } from "./gen/realtime/v1/types.js";
import type { Recovery } from "./history/recovery.js";
import type { Hub } from "./hub.js";
import type { LatencyHistogram } from "./metrics-histogram.js";
import type { NodeCounters } from "./node-counters.js";

/**
 * How long a publication waits behind a gap before the node reads the gap from history. Brokers
 * reorder publications of different publishers by a few milliseconds; a gap still open after
 * this is a loss.
 */
export const GAP_WAIT_MS = 300;
/** Retry delay of a gap fill whose history read failed (history store down). */
export const GAP_RETRY_MS = 1000;

/**
 * Delivers publications to local subscribers in offset order and once each, when every node
 * reads the same history (so offsets mean the same everywhere). Per channel with local
 * subscribers it keeps what was delivered last and what waits behind a gap (ChannelOrder);
 * a gap still open after GAP_WAIT_MS, or what passed while the broker was down, is read from
 * history. Where history cannot say (new epoch, trimmed), the channel's subscribers are told
 * to resynchronise (Subscriber.lost), so the gap is visible to them instead of silent.
 */
export class OrderedDelivery {
  private readonly orders = new Map<string, ChannelOrder>();

  constructor(
    private readonly hub: Hub,
    /** What history holds after `since` (HubNode.recover). */
    private readonly recover: (channel: string, since: StreamPosition) => Promise<Recovery>,
    private readonly counters: NodeCounters,
    private readonly log: Logger,
    /** Whether offsets are shared by the cluster; without, publications go out as they come. */
    private readonly shared: boolean,
    private readonly clock: Clock,
  ) {}

  /**
   * Delivers `pub` now, or holds it behind a gap; drops what was delivered already. `latency`
   * gets the time from `acceptedAt` (performance.now()) to the end of the fan-out when `pub`
   * goes out now (one reading per publication, none per subscriber).
   */
  deliver(channel: string, pub: Publication, acceptedAt = 0, latency?: LatencyHistogram): void {
    if (!this.shared || pub.offset === "0" || !this.hub.has(channel)) {
      this.write(channel, pub);
      return latency?.since(acceptedAt);
    }
    let order = this.orders.get(channel);
    if (!order || order.epoch !== pub.epoch) {
      // A new epoch is a new stream (history was lost): it starts where this publication is.
      if (order) this.dispose(order);
      this.orders.set(channel, (order = new ChannelOrder(pub.epoch, Number(pub.offset) - 1)));
    }
    const ready = order.accept(pub);
    if (ready === null) {
      this.counters.duplicatesDropped++;
      return;
    }
    for (const p of ready) this.write(channel, p);
    if (ready.length > 0) latency?.since(acceptedAt);
    if (order.overfull) void this.fill(channel);
    else if (order.waiting && !order.timer) this.scheduleFill(channel, order, GAP_WAIT_MS);
  }

  /** A subscriber started at this stream position (the first one sets the channel's position). */
  notePosition(channel: string, position: StreamPosition): void {
    if (this.shared && position.epoch && !this.orders.has(channel) && this.hub.has(channel))
      this.orders.set(channel, new ChannelOrder(position.epoch, Number(position.offset)));
  }

  /** The broker came back: read what passed meanwhile in every channel with subscribers. */
  fillAll(): void {
    for (const channel of this.orders.keys()) void this.fill(channel);
  }

  /** The channel's last local subscriber left. */
  forget(channel: string): void {
    const order = this.orders.get(channel);
    if (order) this.dispose(order);
    this.orders.delete(channel);
  }

  close(): void {
    for (const order of this.orders.values()) this.dispose(order);
    this.orders.clear();
  }

  private dispose(order: ChannelOrder): void {
    this.clock.clear(order.timer);
    order.timer = undefined;
    order.dispose();
  }

  /** Encodes the publication once and hands the same event to every local subscriber. */
  private write(channel: string, pub: Publication): void {
    this.counters.delivered += this.hub.fanOut(ChannelEvent.publication(channel, pub));
  }

  private scheduleFill(channel: string, order: ChannelOrder, ms: number): void {
    this.clock.clear(order.timer);
    order.timer = this.clock.setTimeout(() => void this.fill(channel), ms);
  }

  /** Reads from history what this node has not delivered of `channel` and delivers it in order. */
  private async fill(channel: string): Promise<void> {
    const order = this.orders.get(channel);
    if (!order) return;
    this.clock.clear(order.timer);
    order.timer = undefined;
    // Live delivery goes on during the read: the answer is compared with what was asked.
    const since = { offset: String(order.last), epoch: order.epoch };
    let r: Recovery;
    try {
      r = await this.recover(channel, since);
    } catch (err) {
      if (this.orders.get(channel) !== order) return;
      this.log.warn({ err, channel }, "could not read history to fill a gap; will retry");
      if (order.overfull) this.lose(channel);
      else this.scheduleFill(channel, order, GAP_RETRY_MS);
      return;
    }
    if (this.orders.get(channel) !== order) return;
    if (!r.recovered) {
      this.log.warn({ channel, epoch: order.epoch, from: since.offset, history: r.position }, "a gap history cannot fill");
      return this.lose(channel);
    }
    for (const pub of r.publications) {
      // Recovered: an offset history lacks between what it holds was erased (EraseUser), not lost.
      const offset = Number(pub.offset);
      if (offset > order.last + 1) for (const p of order.skipTo(offset - 1)) this.write(channel, p);
      const ready = order.accept(pub);
      if (!ready) continue;
      this.counters.recoveredAfterReconnect++;
      for (const p of ready) this.write(channel, p);
    }
    // The same up to the top history had when read: what is held past it arrived meanwhile.
    if (order.waiting) for (const p of order.skipTo(Number(r.position.offset))) this.write(channel, p);
    // Still waiting: history does not have what is missing.
    if (order.waiting) {
      this.log.warn({ channel, epoch: order.epoch, delivered: order.last, history: r.position }, "a gap history cannot fill");
      this.lose(channel);
    }
  }

  private lose(channel: string): void {
    this.forget(channel);
    this.counters.gapsLost++;
    for (const s of this.hub.subscribersOf(channel)) s.lost(channel);
  }
}
