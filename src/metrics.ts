import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { HubNode } from "./node.js";
import { CLIENT_LIMITS } from "./node-counters.js";

/** What the HTTP edge counts of its client connections (see transport/connection-limits.ts and transport/origins.ts). */
export interface ConnectionCounts {
  openConnections(transport: "websocket" | "sse" | "longpoll"): number;
  refused(reason: "node_limit" | "ip_limit" | "origin"): number;
}

/**
 * Prometheus metrics of one node, read from the node's own counters at scrape time so the
 * data path pays nothing for them. One registry per node (several nodes may share a process).
 */
export function createMetrics(node: HubNode, opts: { processMetrics?: boolean; connections?: ConnectionCounts } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: node.id });
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: "realtime_" });
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
  gauge("realtime_clients", "Connected clients on this node", () => node.sessions.stats().clients);
  gauge("realtime_users", "Distinct users connected to this node", () => node.sessions.stats().users);
  gauge("realtime_channels", "Channels with local subscribers", () => node.hub.stats().channels);
  gauge("realtime_subscriptions", "Local subscriptions", () => node.hub.stats().subscriptions);
  gauge("realtime_broker_healthy", "1 while the broker connection is up", () => (node.broker.healthy() ? 1 : 0));
  counter("realtime_publications_total", "Publications accepted by this node", () => node.counters.published);
  counter("realtime_deliveries_total", "Publication frames written to local subscribers", () => node.counters.delivered);
  counter("realtime_broker_published_total", "Publications this node sent to the broker (joins, leaves, control excluded)", () => node.counters.brokerPublished);
  counter("realtime_broker_received_total", "Envelopes consumed from the broker (own echoes excluded)", () => node.counters.fromBroker);
  counter("realtime_broker_publish_failures_total", "Broker publishes that failed (delivered locally only)", () => node.counters.brokerPublishFailures);
  new Counter({
    name: "realtime_limit_refusals_total",
    help: "What the limits on one client refused, by limit: connects past maxConnectionsPerUser, subscribes past maxChannelsPerClient, commands past clientCommandRate or clientPublishRate (error 111), connections closed going on at twice a rate (rate_flood), WebSocket frames past maxMessageBytes (1009)",
    labelNames: ["limit"],
    registers: [registry],
    collect() {
      this.reset();
      for (const limit of CLIENT_LIMITS) this.inc({ limit }, node.counters.limitRefusals[limit]);
    },
  });
  node.proxy.metrics.registerOn(registry);
  const conns = opts.connections;
  if (conns) {
    new Gauge({
      name: "realtime_connections",
      help: "Open client connections (WebSocket, SSE, long-poll sessions) counted against maxConnections, by transport",
      labelNames: ["transport"],
      registers: [registry],
      collect() {
        for (const transport of ["websocket", "sse", "longpoll"] as const) this.set({ transport }, conns.openConnections(transport));
      },
    });
    new Counter({
      name: "realtime_connections_refused_total",
      help: "Connections refused at maxConnections (node_limit), at maxConnectionsPerIp (ip_limit), or for an Origin allowedOrigins does not allow (origin)",
      labelNames: ["reason"],
      registers: [registry],
      collect() {
        this.reset();
        for (const reason of ["node_limit", "ip_limit", "origin"] as const) this.inc({ reason }, conns.refused(reason));
      },
    });
  }
  return registry;
}
