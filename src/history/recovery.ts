import type { Publication, StreamPosition } from "../gen/realtime/v1/types.js";
import type { ReadResult } from "./history-store.js";

/** What history gives back to someone who had a channel's stream up to `since`. */
export interface Recovery {
  /** The top of the stream now. */
  position: StreamPosition;
  /** What followed `since`, in order; empty when `since` is of another epoch or past the top. */
  publications: Publication[];
  /** Nothing is missing: `publications` continue `since` without a gap. */
  recovered: boolean;
}

/**
 * The one rule of "history continues from X", shared by a client subscribing with recovery
 * and the node filling a gap after a broker outage: the same epoch, and the first publication
 * read is the one right after `since` (or, with none read, `since` is the top).
 */
export function recoveryFrom(r: ReadResult, since: StreamPosition): Recovery {
  const from = Number(since.offset);
  const top = Number(r.position.offset);
  const sameStream = r.position.epoch === since.epoch && from <= top;
  if (!sameStream) return { position: r.position, publications: [], recovered: false };
  const first = r.publications[0];
  return { position: r.position, publications: r.publications, recovered: first ? Number(first.offset) === from + 1 : from === top };
}
