import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.js";
import type { HubNode } from "../../src/node.js";
import { createTestNode } from "../helpers/node.js";

/** deploy/grafana-dashboard.json imports as is and asks only for series the hub exposes. */
const DASHBOARD = JSON.parse(readFileSync(new URL("../../deploy/grafana-dashboard.json", import.meta.url), "utf8")) as {
  __inputs: { name: string; type: string; pluginId: string }[];
  templating: { list: { name: string; datasource?: { uid: string }; definition?: string }[] };
  panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
};

let node: HubNode;
/** Series names the registry writes: each metric, and a histogram's _bucket, _sum and _count. */
let series: Set<string>;
beforeAll(async () => {
  node = await createTestNode();
  const registry = createMetrics(node, {
    processMetrics: true,
    connections: { openConnections: () => 0, refused: () => 0 },
  });
  series = new Set();
  for (const m of await registry.getMetricsAsJSON()) {
    series.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) series.add(m.name + s);
  }
});
afterAll(async () => {
  await node?.shutdown();
});

const panels = () => DASHBOARD.panels.filter((p) => p.type !== "row");

it("takes its Prometheus data source as an import input", () => {
  expect(DASHBOARD.__inputs).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" }));
  for (const p of panels()) {
    expect(p.datasource?.uid, p.title).toBe("${DS_PROMETHEUS}");
    for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe("${DS_PROMETHEUS}");
  }
});

it("every panel's expressions name only metrics the hub exposes", () => {
  const exprs = [
    ...panels().flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
    ...DASHBOARD.templating.list.map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? "" })),
  ];
  expect(panels().length).toBeGreaterThan(15);
  const missing: string[] = [];
  for (const { where, expr } of exprs) {
    const names = [...expr.matchAll(/\brealtime_[a-z0-9_]+/g)].map((m) => m[0]);
    if (!names.length && !where.startsWith("variable")) missing.push(`${where}: no realtime_ metric in ${expr}`);
    for (const n of names) if (!series.has(n)) missing.push(`${where}: ${n}`);
  }
  expect(missing).toEqual([]);
});

it("has a panel for each of the main series", () => {
  const all = panels().flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join("\n");
  for (const m of [
    "realtime_connections",
    "realtime_transport_subscriptions",
    "realtime_messages_in_total",
    "realtime_messages_out_total",
    "realtime_publish_deliver_seconds_bucket",
    "realtime_broker_publish_seconds_bucket",
    "realtime_broker_consume_seconds_bucket",
    "realtime_client_errors_total",
    "realtime_api_errors_total",
    "realtime_disconnects_total",
    "realtime_recovery_total",
    "realtime_proxy_calls_total",
    "realtime_proxy_duration_seconds_bucket",
  ])
    expect(all, m).toContain(m);
});
