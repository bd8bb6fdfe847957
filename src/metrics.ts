import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { KNOWN_DISCONNECTS, KNOWN_ERRORS, codeLabel } from "./metrics-codes.js";
import { HistogramFamily, type LatencyHistogram } from "./metrics-histogram.js";
import type { HubNode } from "./node.js";
import { CLIENT_LIMITS, RECOVERY_OUTCOMES, TRANSPORTS, type TransportKind } from "./node-counters.js";
import { Session } from "./session.js";

/** What the HTTP edge counts of its client connections (see transport/connection-limits.ts and transport/origins.ts). */
export interface ConnectionCounts {
  openConnections(transport: "websocket" | "sse" | "longpoll"): number;
  refused(reason: "node_limit" | "ip_limit" | "origin"): number;
}

/** Sums a count by code into labels, codes outside `known` together. */
function byLabel(known: ReadonlySet<number>, counts: ReadonlyMap<number, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [code, n] of counts) {
    const label = codeLabel(known, code);
    out.set(label, (out.get(label) ?? 0) + n);
  }
  return out;
}

/**
 * Prometheus metrics of one node, read from the node's own counters at scrape time so the
 * data path pays at most an increment (histograms: see metrics-histogram.ts). One registry per
 * node (several nodes may share a process). Every metric is in docs/operations.md ("Metrics");
 * test/integration/metrics-doc.test.ts fails when the two differ.
 */
export function createMetrics(node: HubNode, opts: { processMetrics?: boolean; connections?: ConnectionCounts } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: node.id });
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: "realtime_" });
  const c = node.counters;
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  /** A counter with one label, read as [label value, count] pairs at scrape time. */
  const labelled = (name: string, help: string, label: string, read: () => Iterable<readonly [string, number]>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [value, n] of read()) this.inc({ [label]: value }, n);
      },
    });
  const histogram = (name: string, help: string, children: () => Iterable<[Record<string, string>, LatencyHistogram]>) =>
    registry.registerMetric(new HistogramFamily(name, help, children).asMetric());

  gauge("realtime_clients", "Connected clients on this node", () => node.sessions.stats().clients);
  gauge("realtime_users", "Distinct users connected to this node", () => node.sessions.stats().users);
  gauge("realtime_channels", "Channels with local subscribers", () => node.hub.stats().channels);
  gauge("realtime_subscriptions", "Local subscriptions", () => node.hub.stats().subscriptions);
  gauge("realtime_broker_healthy", "1 while the broker connection is up", () => (node.broker.healthy() ? 1 : 0));
  counter("realtime_publications_total", "Publications accepted by this node", () => c.published);
  counter("realtime_deliveries_total", "Publication frames written to local subscribers", () => c.delivered);
  counter("realtime_broker_published_total", "Publications this node sent to the broker (joins, leaves, control excluded)", () => c.brokerPublished);
  counter("realtime_broker_received_total", "Envelopes consumed from the broker (own echoes excluded)", () => c.fromBroker);
  counter("realtime_broker_publish_failures_total", "Broker publishes that failed (delivered locally only)", () => c.brokerPublishFailures);
  counter("realtime_broker_duplicates_dropped_total", "Publications from the broker dropped because this node had delivered them already", () => c.duplicatesDropped);
  counter("realtime_gap_publications_recovered_total", "Publications this node read from history to close a gap in what the broker delivered", () => c.recoveredAfterReconnect);
  counter("realtime_gaps_lost_total", "Gaps history could not fill; the channel's subscribers were told to resynchronise (disconnect 3010)", () => c.gapsLost);
  labelled(
    "realtime_limit_refusals_total",
    "What the limits on one client refused, by limit: connects past maxConnectionsPerUser, subscribes past maxChannelsPerClient, commands past clientCommandRate or clientPublishRate (error 111), connections closed going on at twice a rate (rate_flood), WebSocket frames past maxMessageBytes (1009)",
    "limit",
    () => CLIENT_LIMITS.map((limit) => [limit, c.limitRefusals[limit]] as const),
  );

  // By transport. Client sessions (websocket, sse, longpoll) are counted by scanning the
  // registry at scrape time; Mercure and gRPC Subscribe streams count themselves.
  const scan = () => {
    const conns: Record<TransportKind, number> = { websocket: 0, sse: 0, longpoll: 0, mercure: 0, grpc: 0 };
    const subs: Record<TransportKind, number> = { ...conns };
    for (const s of node.sessions.all()) {
      if (!(s instanceof Session)) continue;
      conns[s.transport.name]++;
      subs[s.transport.name] += s.channels.length;
    }
    for (const t of ["mercure", "grpc"] as const) {
      conns[t] = c.transports[t].streams;
      subs[t] = c.transports[t].subscriptions;
    }
    return { conns, subs };
  };
  const edge = opts.connections;
  new Gauge({
    name: "realtime_connections",
    help: "Open connections by transport: WebSocket, SSE and long-poll sessions counted against maxConnections (connected or not yet), Mercure streams, gRPC Subscribe streams",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      const { conns } = scan();
      for (const transport of TRANSPORTS) {
        const edgeCount = edge && transport !== "mercure" && transport !== "grpc" ? edge.openConnections(transport) : undefined;
        this.set({ transport }, edgeCount ?? conns[transport]);
      }
    },
  });
  new Gauge({
    name: "realtime_transport_subscriptions",
    help: "Channel subscriptions by transport (client sessions, Mercure streams, gRPC Subscribe streams); they add up to realtime_subscriptions",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      const { subs } = scan();
      for (const transport of TRANSPORTS) this.set({ transport }, subs[transport]);
    },
  });
  labelled(
    "realtime_messages_in_total",
    "Client protocol commands received, by transport (WebSocket lines including pongs; SSE, long-poll, Mercure and gRPC streams receive none)",
    "transport",
    () => TRANSPORTS.map((t) => [t, c.transports[t].in] as const),
  );
  labelled(
    "realtime_messages_out_total",
    "Frames written to subscribers, by transport: client protocol pushes, replies and pings (several may share one WebSocket message), Mercure SSE events and heartbeats, gRPC Subscribe publications",
    "transport",
    () => TRANSPORTS.map((t) => [t, c.transports[t].out] as const),
  );

  histogram(
    "realtime_publish_deliver_seconds",
    "From the node accepting a publication (source=local: HubNode.publish, history append included; source=broker: consumed from the broker) to the end of its local fan-out; publications held behind a gap are not observed",
    () => [[{ source: "local" }, c.deliverLocal], [{ source: "broker" }, c.deliverBroker]],
  );
  histogram(
    "realtime_broker_publish_seconds",
    "Broker publish of a publication, from the call to its acknowledgement by the broker client, by broker kind",
    () => [[{ broker: node.config.broker }, c.brokerPublish]],
  );
  histogram(
    "realtime_broker_consume_seconds",
    "A publication consumed from the broker, from its arrival to the end of its local fan-out, by broker kind",
    () => [[{ broker: node.config.broker }, c.deliverBroker]],
  );

  labelled(
    "realtime_client_errors_total",
    "Error replies written to clients, by error code (protocol codes 100-113; other: a webhook's own code)",
    "code",
    () => byLabel(KNOWN_ERRORS, c.clientErrors),
  );
  new Counter({
    name: "realtime_api_errors_total",
    help: "Errors the server API answered, by API (grpc, http) and error code (see docs/protocol.md)",
    labelNames: ["api", "code"],
    registers: [registry],
    collect() {
      this.reset();
      for (const api of ["grpc", "http"] as const)
        for (const [code, n] of byLabel(KNOWN_ERRORS, c.apiErrors[api])) this.inc({ api, code }, n);
    },
  });
  labelled(
    "realtime_disconnects_total",
    "Client sessions closed, by disconnect code: 3008 slow client, 3505/3014 connection limits, 3501 bad request (also rate floods), 3012 no pong, 3005 expired, 3010 lost state, 3000 normal... (other: a webhook's own code)",
    "code",
    () => byLabel(KNOWN_DISCONNECTS, c.disconnects),
  );
  labelled(
    "realtime_recovery_total",
    "Client subscribes with recovery, by outcome: recovered (everything after the client's position), gap (some of it was trimmed from history), too_old (another epoch, or all of it expired)",
    "outcome",
    () => RECOVERY_OUTCOMES.map((o) => [o, c.recoveries[o]] as const),
  );

  node.proxy.metrics.registerOn(registry);
  if (edge)
    labelled(
      "realtime_connections_refused_total",
      "Connections refused at maxConnections (node_limit), at maxConnectionsPerIp (ip_limit), or for an Origin allowedOrigins does not allow (origin)",
      "reason",
      () => (["node_limit", "ip_limit", "origin"] as const).map((reason) => [reason, edge.refused(reason)] as const),
    );
  return registry;
}
