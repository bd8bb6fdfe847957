import type { Timer } from "./clock.js";
import type { Publication } from "./gen/realtime/v1/types.js";

/** Most publications held back behind one gap before the node stops waiting and fills it. */
const MAX_HELD = 1000;

/**
 * One channel's stream as this node delivers it: publications leave in offset order, each
 * once. Offsets come from the shared history, but a broker may hand them over out of order
 * (two publishers on two nodes append 5 and 6, and 6 crosses the broker first) or lose one
 * (a publisher cut off from the broker stored its publication but could not send it). A
 * publication past a gap is held until the gap closes; the node fills a gap that stays open
 * from history, or tells the subscribers they must recover.
 */
export class ChannelOrder {
  private readonly held = new Map<number, Publication>();
  /** A gap fill is scheduled (the node's timer); cleared when it runs. */
  timer: Timer | undefined;

  constructor(
    readonly epoch: string,
    /** The last offset delivered (or the position a subscriber started at). */
    public last: number,
  ) {}

  /**
   * Takes a publication of this epoch; returns what can be delivered now, in order (empty
   * while `pub` waits behind a gap), or null when it was delivered or is held already.
   */
  accept(pub: Publication): Publication[] | null {
    const offset = Number(pub.offset);
    if (offset <= this.last || this.held.has(offset)) return null;
    if (offset !== this.last + 1) {
      this.held.set(offset, pub);
      return [];
    }
    this.last = offset;
    const ready = [pub];
    for (let next = this.held.get(this.last + 1); next; next = this.held.get(this.last + 1)) {
      this.held.delete(this.last + 1);
      this.last++;
      ready.push(next);
    }
    return ready;
  }

  /**
   * History says nothing is left to deliver up to `offset` (EraseUser removed those
   * publications; they are not lost): moves past them, drops any held of them (erased since
   * they crossed the broker), and returns what was held behind and can go now, in order.
   */
  skipTo(offset: number): Publication[] {
    if (offset <= this.last) return [];
    for (const o of this.held.keys()) if (o <= offset) this.held.delete(o);
    this.last = offset;
    const ready: Publication[] = [];
    for (let next = this.held.get(this.last + 1); next; next = this.held.get(this.last + 1)) {
      this.held.delete(this.last + 1);
      this.last++;
      ready.push(next);
    }
    return ready;
  }

  /** Publications wait behind a gap. */
  get waiting(): boolean {
    return this.held.size > 0;
  }

  /** So many wait that the gap is not a broker reordering: fill it now. */
  get overfull(): boolean {
    return this.held.size >= MAX_HELD;
  }

  /** Forgets what is held; the caller clears the timer (it owns the clock). */
  dispose(): void {
    this.held.clear();
  }
}
