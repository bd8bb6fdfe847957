import { randomUUID } from "node:crypto";
import type { Clock, Timer } from "./clock.js";
import type { ChannelsAnswer } from "./gen/realtime/v1/broker.js";
import type { ChannelInfo } from "./gen/realtime/v1/hub.js";

/**
 * The cluster-wide Channels call: the node asked publishes a query through the broker, every
 * other node answers with its own channels, and the node asked merges the answers with its own.
 * This file holds the pure parts (matching, bounding, merging) and the bookkeeping of queries
 * waiting for answers; node.ts wires them to the broker.
 */

/** How long the node asked waits for the other nodes' answers. */
export const CHANNELS_QUERY_TIMEOUT_MS = 1000;
/** Most channels in one node's answer, and in one ChannelsResponse. */
export const MAX_CHANNELS_PER_ANSWER = 10_000;
/**
 * Most bytes of channels in one answer and one response, estimated as encoded. NATS refuses
 * messages over 1 MiB by default, and Kafka, Redis and RabbitMQ are happier with small ones.
 */
export const MAX_CHANNELS_ANSWER_BYTES = 512 * 1024;
/** Longest ChannelsRequest.pattern. */
export const MAX_CHANNELS_PATTERN_LENGTH = 512;
/**
 * An upper bound of what one map entry costs encoded besides its name (entry tag and length,
 * key tag and length, value tag and length, ChannelInfo with a uint32). Channel names are ASCII,
 * so their length is their size.
 */
const ENTRY_OVERHEAD_BYTES = 16;

/** Channels with their subscriber counts; `truncated` when matching channels were left out. */
export interface ChannelsPart {
  channels: Record<string, ChannelInfo>;
  truncated: boolean;
}

/**
 * Glob matching: `*` matches any run of characters, every other character itself. Linear in
 * practice and O(name × pattern) at worst (a regular expression with many `.*` backtracks far
 * worse), so a pattern cannot stall the nodes that apply it.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      // Let the last `*` take one more character and try again from there.
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

const byName = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * Keeps what fits the bounds: everything when it does, else the first channels in name order
 * (byte order: names are ASCII), so that whatever is left out comes after what is kept.
 */
export function boundChannels(entries: Array<[string, number]>): ChannelsPart {
  let bytes = 0;
  for (const [name] of entries) bytes += name.length + ENTRY_OVERHEAD_BYTES;
  const channels: Record<string, ChannelInfo> = {};
  if (entries.length <= MAX_CHANNELS_PER_ANSWER && bytes <= MAX_CHANNELS_ANSWER_BYTES) {
    for (const [name, numClients] of entries) channels[name] = { numClients };
    return { channels, truncated: false };
  }
  entries.sort(byName);
  bytes = 0;
  let kept = 0;
  for (const [name, numClients] of entries) {
    bytes += name.length + ENTRY_OVERHEAD_BYTES;
    if (kept === MAX_CHANNELS_PER_ANSWER || bytes > MAX_CHANNELS_ANSWER_BYTES) break;
    channels[name] = { numClients };
    kept++;
  }
  return { channels, truncated: true };
}

/** A node's own channels matching `pattern`, bounded. */
export function collectChannels(names: Iterable<string>, pattern: string, count: (name: string) => number): ChannelsPart {
  const entries: Array<[string, number]> = [];
  for (const name of names) if (!pattern || globMatch(pattern, name)) entries.push([name, count(name)]);
  return boundChannels(entries);
}

/**
 * Sums the nodes' parts. A truncated part has every matching channel up to its last name (in
 * name order) and none after it, so the sum is exact up to the smallest such last name and is
 * cut there; then the result is bounded again. Whatever a response lists is thus counted in full
 * (by the nodes that answered), and what it leaves out comes after all it lists.
 */
export function mergeChannels(parts: ChannelsPart[]): ChannelsPart {
  let cut: string | undefined;
  for (const part of parts) {
    if (!part.truncated) continue;
    let last = "";
    for (const name of Object.keys(part.channels)) if (name > last) last = name;
    if (cut === undefined || last < cut) cut = last;
  }
  const sums = new Map<string, number>();
  for (const part of parts)
    for (const [name, info] of Object.entries(part.channels))
      if (cut === undefined || name <= cut) sums.set(name, (sums.get(name) ?? 0) + info.numClients);
  const merged = boundChannels([...sums]);
  return { channels: merged.channels, truncated: merged.truncated || cut !== undefined };
}

/** What a query collected: the answers by node, and the nodes waited for that did not answer. */
export interface ChannelsCollected {
  answers: Map<string, ChannelsPart>;
  missing: string[];
}

interface PendingQuery {
  waiting: Set<string>;
  answers: Map<string, ChannelsPart>;
  timer: Timer;
  resolve: (c: ChannelsCollected) => void;
}

/**
 * The queries this node asked and is waiting on. Each ends when every node waited for has
 * answered, at its deadline, when its query could not be published, or at close(): then its
 * timer and entry are gone, and answers that come later are dropped.
 */
export class ChannelsQueries {
  private readonly pending = new Map<string, PendingQuery>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs = CHANNELS_QUERY_TIMEOUT_MS,
  ) {}

  /** Starts waiting for the answers of `nodes` to a new query, which the caller then publishes. */
  open(nodes: Iterable<string>): { requestId: string; done: Promise<ChannelsCollected> } {
    const requestId = randomUUID();
    const done = new Promise<ChannelsCollected>((resolve) => {
      const timer = this.clock.setTimeout(() => this.finish(requestId), this.timeoutMs);
      this.pending.set(requestId, { waiting: new Set(nodes), answers: new Map(), timer, resolve });
    });
    return { requestId, done };
  }

  /**
   * An answer addressed to this node. A node not waited for (one heard of only after the query
   * started) is counted too while the query is open; a repeat of a node's answer is not.
   */
  answer(from: string, a: ChannelsAnswer): void {
    const q = this.pending.get(a.requestId);
    if (!q || q.answers.has(from)) return;
    q.answers.set(from, { channels: a.channels, truncated: a.truncated });
    q.waiting.delete(from);
    if (q.waiting.size === 0) this.finish(a.requestId);
  }

  /** Ends a query now with what it has. */
  finish(requestId: string): void {
    const q = this.pending.get(requestId);
    if (!q) return;
    this.pending.delete(requestId);
    this.clock.clear(q.timer);
    q.resolve({ answers: q.answers, missing: [...q.waiting].sort() });
  }

  /** Ends every query (the node shuts down). */
  close(): void {
    for (const id of [...this.pending.keys()]) this.finish(id);
  }

  /** Queries still waiting (for tests). */
  get size(): number {
    return this.pending.size;
  }
}
