import type { BrokerEnvelope } from "../gen/realtime/v1/broker.js";
import type { StreamPosition } from "../gen/realtime/v1/types.js";
import type { HistoryOptions } from "../history/history-store.js";

/** Receives what the broker delivers to this node. Must not throw and must not block. */
export type EnvelopeHandler = (envelope: BrokerEnvelope) => void;

/**
 * Carries envelopes between hub nodes.
 *
 * An implementer guarantees:
 * - every envelope published for a channel reaches every started node that subscribed to
 *   that channel (control envelopes, with an empty channel, reach every node), including
 *   the publishing node itself; the node drops its own by `origin`;
 * - order is kept per channel from one publisher;
 * - delivery is at most once: a node that was down or disconnected misses envelopes
 *   (history is what makes the gap visible to clients);
 * - while the broker is unreachable, `publish` fails fast (it never queues without bound)
 *   and the implementation reconnects and resubscribes by itself.
 */
export interface Broker {
  /** `memory`, `redis`, ... as in the config. */
  readonly kind: string;
  /** Starts consuming; `handler` gets every envelope for subscribed channels. */
  start(handler: EnvelopeHandler): Promise<void>;
  publish(envelope: BrokerEnvelope): Promise<void>;
  /** This node has local subscribers in `channel` (brokers that consume everything may ignore it). */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** False while the connection to the broker is down. */
  healthy(): boolean;
  close(): Promise<void>;
}

/**
 * Optional ability: append to history and publish in one atomic step (Redis: one Lua
 * script), so every node sees a channel's publications in offset order. A node uses it when
 * its broker has it and history lives in the same place.
 */
export interface HistoryPublisher {
  /** Assigns offset and epoch (written into the envelope's publication) and publishes. */
  publishWithHistory(envelope: BrokerEnvelope, opts: HistoryOptions): Promise<StreamPosition>;
}

export function isHistoryPublisher(b: Broker): b is Broker & HistoryPublisher {
  return typeof (b as Partial<HistoryPublisher>).publishWithHistory === "function";
}

/**
 * Optional ability: tells the node when the connection came back after an outage, so it can
 * fill from history what its subscribers missed meanwhile.
 */
export interface ReconnectNotifier {
  onReconnect(listener: () => void): void;
}

export function isReconnectNotifier(b: Broker): b is Broker & ReconnectNotifier {
  return typeof (b as Partial<ReconnectNotifier>).onReconnect === "function";
}
