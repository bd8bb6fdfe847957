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
  };
}
