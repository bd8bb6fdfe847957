import { createHmac, randomBytes } from "node:crypto";
import type { Publication, StreamPosition } from "../gen/realtime/v1/types.js";
import type { HistoryOptions, HistoryStore, ReadOptions, ReadResult } from "./history-store.js";

interface Stream {
  epoch: string;
  top: number;
  /** Ring of the last `size` publications, oldest first. */
  pubs: Publication[];
  expiresAt: number;
  /** Until when emptyPosition() could hand this stream's epoch out again, were the stream lost. */
  reservedUntil: number;
  /** Offsets EraseUser removed, ascending, those a reader could still take for a gap (see prune). */
  erased?: number[];
}

/** An epoch and until when it belongs to a channel without a stream. */
interface EpochLease {
  epoch: string;
  until: number;
}

const newEpoch = () => randomBytes(4).toString("hex");
/** TTL of the position of a channel never written, when the reader gives none. */
const DEFAULT_EMPTY_TTL_SECONDS = 300;

/**
 * History in this process's memory: a bounded list per channel, dropped after its TTL.
 *
 * A channel without a stream still has a position, so a client that subscribes before the
 * first publication can recover it: its epoch is derived from the channel and the TTL-long
 * window of time it falls in, and the append that creates the stream takes the same one, so
 * reading a channel that was never written keeps nothing in memory. Safe because a stream
 * lost to its TTL outlived the window it was created in, so no later stream gets its epoch;
 * remove() can drop a stream sooner and leaves a tombstone with a fresh epoch until that
 * window ends. A first publication in a later window than the reader's gets another epoch:
 * recovered=false, as for any position older than the TTL.
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly kind = "memory";
  /** Each node holds its own: every node erases it. */
  readonly shared = false;
  private readonly streams = new Map<string, Stream>();
  /** Channels whose stream was removed before its epoch's window ended: their next epoch. */
  private readonly tombstones = new Map<string, EpochLease>();
  /** Epochs differ from one store (process) to the next: memory does not survive a restart. */
  private readonly secret = randomBytes(16);
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
      const empty = this.emptyPosition(channel, opts.ttlSeconds);
      s = { epoch: empty.epoch, top: 0, pubs: [], expiresAt: 0, reservedUntil: empty.until };
      this.streams.set(channel, s);
      this.tombstones.delete(channel);
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
    const s = this.stream(channel);
    if (!s) {
      const empty = this.emptyPosition(channel, opts.ttlSeconds ?? DEFAULT_EMPTY_TTL_SECONDS);
      return { publications: [], position: { offset: "0", epoch: empty.epoch } };
    }
    const position = { offset: String(s.top), epoch: s.epoch };
    if (opts.limit <= 0) return { publications: [], position };
    let pubs = s.pubs;
    if (opts.since) {
      const after = Number(opts.since.offset);
      pubs = pubs.filter((p) => Number(p.offset) > after);
    }
    pubs = opts.reverse ? pubs.slice(-opts.limit).reverse() : pubs.slice(0, opts.limit);
    return { publications: pubs, position, ...(s.erased?.length ? { erased: [...s.erased] } : {}) };
  }

  async eraseUser(user: string): Promise<Map<string, number>> {
    const removed = new Map<string, number>();
    for (const [channel, s] of this.streams) {
      if (s.expiresAt <= this.now()) continue; // lost already; the sweep drops it
      const gone: number[] = [];
      s.pubs = s.pubs.filter((p) => p.info?.user !== user || (gone.push(Number(p.offset)), false));
      if (gone.length === 0) continue;
      removed.set(channel, gone.length);
      s.erased = prune([...(s.erased ?? []), ...gone].sort((a, b) => a - b), s.pubs[0] ? Number(s.pubs[0].offset) : s.top + 1);
    }
    return removed;
  }

  async remove(channel: string): Promise<void> {
    const s = this.streams.get(channel);
    if (s) this.drop(channel, s);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.streams.clear();
    this.tombstones.clear();
  }

  /** The epoch a stream created now would get, and until when it could be handed out. */
  private emptyPosition(channel: string, ttlSeconds: number): EpochLease {
    const now = this.now();
    const tomb = this.tombstones.get(channel);
    if (tomb && tomb.until > now) return tomb;
    // Never longer than the TTL: a stream must outlive the window its epoch belongs to.
    const windowMs = Math.max(1, Math.floor(ttlSeconds * 1000));
    const window = Math.floor(now / windowMs);
    const epoch = createHmac("sha256", this.secret).update(`${windowMs}:${window}:${channel}`).digest("hex").slice(0, 8);
    return { epoch, until: (window + 1) * windowMs };
  }

  /** Forgets the stream (TTL, removal); a tombstone keeps its epoch from being handed out again. */
  private drop(channel: string, s: Stream): void {
    this.streams.delete(channel);
    if (s.reservedUntil > this.now()) this.tombstones.set(channel, { epoch: newEpoch(), until: s.reservedUntil });
  }

  private stream(channel: string): Stream | undefined {
    const s = this.streams.get(channel);
    if (s && s.expiresAt <= this.now()) {
      this.drop(channel, s);
      return undefined;
    }
    return s;
  }

  private sweep(): void {
    for (const channel of [...this.streams.keys()]) this.stream(channel);
    const now = this.now();
    for (const [channel, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(channel);
  }
}

/**
 * Keeps the erased offsets a reader may still need: those from the run of erased offsets right
 * below `first` (the oldest publication kept, or top + 1) upwards. Below that run an offset was
 * trimmed, so a reader from further back has a gap whatever was erased there.
 */
function prune(erased: number[], first: number): number[] {
  const set = new Set(erased);
  let low = first;
  while (set.has(low - 1)) low--;
  return erased.filter((o) => o >= low);
}
