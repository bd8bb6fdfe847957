import type { Recovery } from "./history/recovery.js";
import { LatencyHistogram } from "./metrics-histogram.js";

/**
 * The limits on what one client connection may do, as /metrics labels them
 * (realtime_limit_refusals_total{limit}); the caps on connections per node and per IP address
 * are the edge's (realtime_connections_refused_total).
 */
export const CLIENT_LIMITS = [
  /** maxConnectionsPerUser: a connect refused. */
  "connections_per_user",
  /** maxChannelsPerClient: a subscribe refused. */
  "channels_per_connection",
  /** clientCommandRate: a command refused (error 111). */
  "command_rate",
  /** clientPublishRate: a publish refused (error 111). */
  "publish_rate",
  /** Going on at twice a rate or more: the connection closed. */
  "rate_flood",
  /** maxMessageBytes: a WebSocket closed with 1009. */
  "message_size",
] as const;
type ClientLimit = (typeof CLIENT_LIMITS)[number];

/** What carries subscribers on a node, as /metrics labels them (`transport`). */
export const TRANSPORTS = ["websocket", "sse", "longpoll", "mercure", "grpc"] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

/** What one transport carried; plain fields, so counting costs an increment. */
export interface TransportTraffic {
  /** Commands received from clients (WebSocket lines; SSE and long-poll send none). */
  in: number;
  /** Frames written to clients: publications, join/leave, replies, pings (Mercure: updates; gRPC: events). */
  out: number;
  /** Open streams (Mercure and gRPC Subscribe; client sessions are counted by the edge and the registry). */
  streams: number;
  /** Channel subscriptions of those streams. */
  subscriptions: number;
}

/** How a client's subscribe with recovery ended (see countRecovery). */
export const RECOVERY_OUTCOMES = ["recovered", "gap", "too_old"] as const;

/** What one node counts on its data path, for /metrics and tests; plain fields, so counting costs an increment. */
export interface NodeCounters {
  /** Publications accepted by this node. */
  published: number;
  /** Publication events handed to local subscribers. */
  delivered: number;
  brokerPublished: number;
  brokerPublishFailures: number;
  /** Envelopes consumed from the broker, own echoes excluded. */
  fromBroker: number;
  echoesDropped: number;
  duplicatesDropped: number;
  /** Publications delivered from history to close a gap. */
  recoveredAfterReconnect: number;
  /** Gaps history could not fill (the channel's subscribers were told to resynchronise). */
  gapsLost: number;
  /** Refusals by the limit that refused. */
  limitRefusals: Record<ClientLimit, number>;
  transports: Record<TransportKind, TransportTraffic>;
  /** Error replies written to clients, by error code. */
  clientErrors: Map<number, number>;
  /** Errors the server API answered, by API and error code. */
  apiErrors: { grpc: Map<number, number>; http: Map<number, number> };
  /** Client sessions closed, by disconnect code. */
  disconnects: Map<number, number>;
  recoveries: Record<(typeof RECOVERY_OUTCOMES)[number], number>;
  /** HubNode.publish to the end of the local fan-out, for publications accepted here. */
  deliverLocal: LatencyHistogram;
  /** From the broker's hand to the end of the local fan-out (also realtime_broker_consume_seconds). */
  deliverBroker: LatencyHistogram;
  /** Broker.publish to its promise settling, publications only. */
  brokerPublish: LatencyHistogram;
}

/** Adds one to `code` in a count by code. */
export function countCode(counts: Map<number, number>, code: number): void {
  counts.set(code, (counts.get(code) ?? 0) + 1);
}

/**
 * What a client's subscribe with recovery got: everything after its position (recovered),
 * some of it after a hole history no longer holds (gap), or nothing usable: another epoch,
 * or all of it expired (too_old).
 */
export function countRecovery(counters: NodeCounters, r: Recovery): void {
  counters.recoveries[r.recovered ? "recovered" : r.publications.length > 0 ? "gap" : "too_old"]++;
}

export function createCounters(): NodeCounters {
  return {
    published: 0,
    delivered: 0,
    brokerPublished: 0,
    brokerPublishFailures: 0,
    fromBroker: 0,
    echoesDropped: 0,
    duplicatesDropped: 0,
    recoveredAfterReconnect: 0,
    gapsLost: 0,
    limitRefusals: Object.fromEntries(CLIENT_LIMITS.map((l) => [l, 0])) as Record<ClientLimit, number>,
    transports: Object.fromEntries(TRANSPORTS.map((t) => [t, { in: 0, out: 0, streams: 0, subscriptions: 0 }])) as Record<TransportKind, TransportTraffic>,
    clientErrors: new Map(),
    apiErrors: { grpc: new Map(), http: new Map() },
    disconnects: new Map(),
    recoveries: { recovered: 0, gap: 0, too_old: 0 },
    deliverLocal: new LatencyHistogram(),
    deliverBroker: new LatencyHistogram(),
    brokerPublish: new LatencyHistogram(),
  };
}
