import { randomBytes } from "node:crypto";
import type { Publication, StreamPosition } from "../gen/realtime/v1/types.js";
import type { HistoryOptions, HistoryStore, ReadOptions, ReadResult } from "./history-store.js";

interface Stream {
  epoch: string;
  top: number;
  /** Ring of the last `size` publications, oldest first. */
  pubs: Publication[];
  expiresAt: number;
}

const newEpoch = () => randomBytes(4).toString("hex");

/** History in this process's memory: a bounded list per channel, dropped after its TTL. */
export class MemoryHistoryStore implements HistoryStore {
  private readonly streams = new Map<string, Stream>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly now: () => number = Date.now,
    sweepIntervalMs = 10_000,
  ) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async append(channel: string, pub: Publication, opts: HistoryOptions): Promise<StreamPosition> {
    let s = this.stream(channel);
    if (!s) {
      s = { epoch: newEpoch(), top: 0, pubs: [], expiresAt: 0 };
      this.streams.set(channel, s);
    }
    s.top++;
    s.expiresAt = this.now() + opts.ttlSeconds * 1000;
    pub.offset = String(s.top);
    pub.epoch = s.epoch;
    s.pubs.push(pub);
    if (s.pubs.length > opts.size) s.pubs.splice(0, s.pubs.length - opts.size);
    return { offset: pub.offset, epoch: s.epoch };
  }

  async read(channel: string, opts: ReadOptions): Promise<ReadResult> {
    let s = this.stream(channel);
    if (!s) {
      // An empty stream still has an epoch, so a client that subscribes now can recover later.
      s = { epoch: newEpoch(), top: 0, pubs: [], expiresAt: this.now() + 300_000 };
      this.streams.set(channel, s);
    }
    const position = { offset: String(s.top), epoch: s.epoch };
    if (opts.limit <= 0) return { publications: [], position };
    let pubs = s.pubs;
    if (opts.since) {
      const after = Number(opts.since.offset);
      pubs = pubs.filter((p) => Number(p.offset) > after);
    }
    pubs = opts.reverse ? pubs.slice(-opts.limit).reverse() : pubs.slice(0, opts.limit);
    return { publications: pubs, position };
  }

  async remove(channel: string): Promise<void> {
    this.streams.delete(channel);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.streams.clear();
  }

  private stream(channel: string): Stream | undefined {
    const s = this.streams.get(channel);
    if (s && s.expiresAt <= this.now()) {
      this.streams.delete(channel);
      return undefined;
    }
    return s;
  }

  private sweep(): void {
    for (const channel of [...this.streams.keys()]) this.stream(channel);
  }
}
