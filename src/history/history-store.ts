import type { ErasableStore } from "../erasable-store.js";
import type { Publication, StreamPosition } from "../gen/realtime/v1/types.js";

export interface HistoryOptions {
  /** Keep at most this many publications. */
  size: number;
  /** Forget the whole stream this long after its last publication. */
  ttlSeconds: number;
}

export interface ReadOptions {
  /** Publications after this position (exclusive); from the oldest kept when absent. */
  since?: StreamPosition | undefined;
  /** At most this many; 0 returns only the position. */
  limit: number;
  /** Newest first. */
  reverse?: boolean;
  /** TTL of the stream a later first append would start: the epoch returned for a stream not written yet lasts that long. */
  ttlSeconds?: number;
}

export interface ReadResult {
  publications: Publication[];
  /** Top of the stream (offset of the newest publication, its epoch). */
  position: StreamPosition;
  /**
   * Offsets of this epoch whose publications EraseUser removed, ascending (absent when none):
   * a reader must not count them as missing (see recoveryFrom). Offsets below the oldest
   * publication kept may be left out when something between them and it was trimmed.
   */
  erased?: number[] | undefined;
}

/**
 * The last publications of each channel, for recovery.
 *
 * An implementer guarantees: offsets in one epoch start at 1 and grow by one per append,
 * with no gaps, so a reader can tell whether it missed something; when a stream is lost
 * (TTL, restart of an in-memory store, removal) it gets a new epoch; everything expires.
 * eraseUser (ErasableStore) removes the publications whose `info.user` is the user and keeps
 * the epoch and every other offset; reads list the offsets it removed (ReadResult.erased).
 */
export interface HistoryStore extends ErasableStore {
  /** Appends `pub`, assigning its offset and epoch (written into `pub` and returned). */
  append(channel: string, pub: Publication, opts: HistoryOptions): Promise<StreamPosition>;
  read(channel: string, opts: ReadOptions): Promise<ReadResult>;
  remove(channel: string): Promise<void>;
  close(): Promise<void>;
}
