import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * docs/operations.md "## Metrics" has one row per metric /metrics exposes, and no other:
 * scraped from a real hub after some traffic, compared both ways (names and types).
 */
const DOC = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");

/** The rows of the table in "## Metrics": name (or `prefix_*`) -> type ("" for the prefix rows). */
function documentedMetrics(): Map<string, string> {
  const start = DOC.indexOf("\n## Metrics\n");
  expect(start, "docs/operations.md has a ## Metrics section").toBeGreaterThan(0);
  const end = DOC.indexOf("\n## ", start + 1);
  const section = DOC.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.startsWith("`realtime_")) continue;
    for (const name of cells[1]!.matchAll(/`([^`]+)`/g)) rows.set(name[1]!, cells[2]!);
  }
  return rows;
}

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.stop();
});

it("documents every metric of /metrics, with its type, and nothing else", async () => {
  const ws = await TestWsClient.connect(hub.wsUrl);
  await ws.call({ subscribe: { channel: "metrics-doc" } });
  const published = await fetch(`${hub.httpUrl}/api/publish`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ channel: "metrics-doc", data: {} }) });
  expect(published.status).toBe(200);
  await ws.waitFor((m) => m.push?.pub);
  await ws.call({ unsubscribe: { channel: "not-subscribed" } });
  ws.ws.close();

  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  const exposed = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  expect(exposed.size).toBeGreaterThan(20);
  const doc = documentedMetrics();
  const prefixes = [...doc.keys()].filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));
  const underPrefix = (name: string) => prefixes.some((p) => name.startsWith(p));

  const undocumented = [...exposed.keys()].filter((n) => !doc.has(n) && !underPrefix(n));
  expect(undocumented, "metrics of /metrics missing from the table in docs/operations.md").toEqual([]);
  const stale = [...doc.keys()].filter((n) => (n.endsWith("*") ? ![...exposed.keys()].some((e) => e.startsWith(n.slice(0, -1))) : !exposed.has(n)));
  expect(stale, "rows of the table in docs/operations.md that /metrics does not have").toEqual([]);
  const wrongType = [...doc].filter(([n, t]) => !n.endsWith("*") && exposed.get(n) !== t).map(([n, t]) => `${n}: doc ${t}, /metrics ${exposed.get(n)}`);
  expect(wrongType).toEqual([]);
});
