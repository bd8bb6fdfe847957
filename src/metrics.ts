import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { HubNode } from "./node.js";

/**
 * Prometheus metrics of one node, read from the node's own counters at scrape time so the
 * data path pays nothing for them. One registry per node (several nodes may share a process).
 */
export function createMetrics(node: HubNode, opts: { processMetrics?: boolean } = {}): Registry {
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
  gauge("realtime_clients", "Connected clients on this node", () => node.hub.stats().clients);
  gauge("realtime_users", "Distinct users connected to this node", () => node.hub.stats().users);
  gauge("realtime_channels", "Channels with local subscribers", () => node.hub.stats().channels);
  gauge("realtime_subscriptions", "Local subscriptions", () => node.hub.stats().subscriptions);
  gauge("realtime_broker_healthy", "1 while the broker connection is up", () => (node.broker.healthy() ? 1 : 0));
  counter("realtime_publications_total", "Publications accepted by this node", () => node.counters.published);
  counter("realtime_deliveries_total", "Publication frames written to local subscribers", () => node.counters.delivered);
  counter("realtime_broker_published_total", "Publications this node sent to the broker (joins, leaves, control excluded)", () => node.counters.brokerPublished);
  counter("realtime_broker_received_total", "Envelopes consumed from the broker (own echoes excluded)", () => node.counters.fromBroker);
  counter("realtime_broker_publish_failures_total", "Broker publishes that failed (delivered locally only)", () => node.counters.brokerPublishFailures);
  return registry;
}
