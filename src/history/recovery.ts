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
 * read is the one right after `since` (or, with none read, `since` is the top), not counting
 * offsets whose publications EraseUser removed (ReadResult.erased): those are not missed.
 */
export function recoveryFrom(r: ReadResult, since: StreamPosition): Recovery {
  const from = Number(since.offset);
  const top = Number(r.position.offset);
  const sameStream = r.position.epoch === since.epoch && from <= top;
  if (!sameStream) return { position: r.position, publications: [], recovered: false };
  const first = r.publications[0];
  const next = first ? Number(first.offset) : top + 1;
  return { position: r.position, publications: r.publications, recovered: onlyErasedBetween(from, next, r.erased) };
}

/** Every offset after `from` and before `next` was erased (none, when `next` follows `from`). */
function onlyErasedBetween(from: number, next: number, erased: number[] | undefined): boolean {
  const missing = next - from - 1;
  if (missing <= 0) return missing === 0;
  if (!erased || missing > erased.length) return false;
  const set = new Set(erased);
  for (let o = from + 1; o < next; o++) if (!set.has(o)) return false;
  return true;
}
