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
  };
}
