import type { Clock, Timer } from "../../src/clock.js";

interface Pending {
  at: number;
  fn: () => void;
  every: number;
}

/** A Clock that moves only when the test says: advance(ms) runs what falls due, in time order. */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Map<Timer, Pending>();

  constructor(start = 1_800_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, 0);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: Timer | undefined): void {
    if (timer) this.timers.delete(timer);
  }

  /** Moves time forward, running each timer when its time comes and letting the promises it starts settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      let next: [Timer, Pending] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      const [timer, p] = next;
      this.time = Math.max(this.time, p.at);
      if (p.every) p.at += p.every;
      else this.timers.delete(timer);
      p.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }

  private add(fn: () => void, ms: number, every: number): Timer {
    const timer = { __timer: true } as Timer;
    this.timers.set(timer, { at: this.time + Math.max(0, ms), fn, every });
    return timer;
  }
}

/** Lets promise chains started by a timer run (a few macrotask turns: stores answer on setImmediate). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
