import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultNamespace } from "../../src/config.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { readSse } from "../helpers/sse-client.js";
import { until } from "../helpers/until.js";
import { grpcClient, pubReq } from "../helpers/grpc-client.js";

/**
 * The metrics an operator runs on move with real traffic: a WebSocket, an SSE and a
 * long-poll client, the HTTP API, recovery, a rate flood. Each test uses its own channels.
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({
    clientCommandRate: 5,
    namespaces: [{ ...defaultNamespace("hist"), historySize: 3, historyTtlSeconds: 60 }],
  });
});
afterAll(async () => {
  await hub?.stop();
});

/** Every sample of /metrics, keyed `name{labels}` with the node label left out. */
async function scrape(h: TestHub): Promise<Map<string, number>> {
  const text = await (await fetch(`${h.httpUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable /metrics line: ${line}`);
    const labels = (m[2] ?? "").split(",").filter((l) => l && !l.startsWith("node=")).join(",");
    out.set(labels ? `${m[1]}{${labels}}` : m[1]!, Number(m[3]));
  }
  return out;
}

const sample = async (key: string) => (await scrape(hub)).get(key) ?? 0;

async function api(method: string, body: unknown): Promise<Response> {
  return fetch(`${hub.httpUrl}/api/${method}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

describe("metrics by transport", () => {
  it("counts a WebSocket and an SSE client as one connection each, with their subscriptions, and a publication out on each", async () => {
    const before = await scrape(hub);
    const ws = await TestWsClient.connect(hub.wsUrl);
    const sse = readSse(`${hub.httpUrl}/connection/sse?channel=m:transports`, 2);
    try {
      await ws.call({ subscribe: { channel: "m:transports" } });
      await until(async () => (await sample('realtime_transport_subscriptions{transport="sse"}')) === 1, { ms: 5000, what: "the SSE subscription" });
      const s = await scrape(hub);
      expect(s.get('realtime_connections{transport="websocket"}')).toBe(1);
      expect(s.get('realtime_connections{transport="sse"}')).toBe(1);
      expect(s.get('realtime_connections{transport="longpoll"}')).toBe(0);
      expect(s.get('realtime_transport_subscriptions{transport="websocket"}')).toBe(1);
      expect(s.get('realtime_transport_subscriptions{transport="sse"}')).toBe(1);
      // connect + subscribe
      expect(s.get('realtime_messages_in_total{transport="websocket"}')! - (before.get('realtime_messages_in_total{transport="websocket"}') ?? 0)).toBe(2);

      const outWs = s.get('realtime_messages_out_total{transport="websocket"}')!;
      const outSse = s.get('realtime_messages_out_total{transport="sse"}')!;
      const local = s.get('realtime_publish_deliver_seconds_count{source="local"}') ?? 0;
      expect((await api("publish", { channel: "m:transports", data: { n: 1 } })).status).toBe(200);
      await ws.waitFor((m) => m.push?.pub?.data?.n === 1);
      await sse; // the subscribe reply and the publication
      const after = await scrape(hub);
      expect(after.get('realtime_messages_out_total{transport="websocket"}')).toBe(outWs + 1);
      expect(after.get('realtime_messages_out_total{transport="sse"}')).toBe(outSse + 1);
      // One observation per publication, not per subscriber.
      expect(after.get('realtime_publish_deliver_seconds_count{source="local"}')).toBe(local + 1);
      expect(after.get('realtime_publish_deliver_seconds_bucket{source="local",le="+Inf"}')).toBe(local + 1);
      expect(after.get('realtime_broker_publish_seconds_count{broker="memory"}')).toBeGreaterThanOrEqual(1);
    } finally {
      ws.ws.close();
      void sse.then((r) => r.close(), () => undefined);
    }
    await until(async () => (await sample('realtime_connections{transport="websocket"}')) === 0, { ms: 5000, what: "the WebSocket to be gone" });
  });

  it("counts a long-poll client and its subscription", async () => {
    const res = await fetch(`${hub.httpUrl}/connection/poll?channel=m:poll`);
    expect(res.status).toBe(200);
    await res.text();
    await until(async () => (await sample('realtime_transport_subscriptions{transport="longpoll"}')) === 1, { ms: 5000, what: "the long-poll subscription" });
    expect(await sample('realtime_connections{transport="longpoll"}')).toBe(1);
  });

  it("counts a gRPC Subscribe stream, its subscriptions and the publications it is sent", async () => {
    const g = grpcClient(hub.grpcAddr);
    const stream = g.client.subscribe({ channels: ["m:grpc1", "m:grpc2"], clientPublicationsOnly: false, joinLeave: false }, g.md());
    stream.on("error", () => undefined);
    const got: unknown[] = [];
    stream.on("data", (e: unknown) => got.push(e));
    try {
      await new Promise((r) => stream.once("metadata", r));
      const before = await scrape(hub);
      expect(before.get('realtime_connections{transport="grpc"}')).toBe(1);
      expect(before.get('realtime_transport_subscriptions{transport="grpc"}')).toBe(2);
      await g.call("publish", pubReq("m:grpc2", { n: 1 }));
      await until(() => got.length === 1, { ms: 5000, what: "the event on the Subscribe stream" });
      const out = (await sample('realtime_messages_out_total{transport="grpc"}')) - before.get('realtime_messages_out_total{transport="grpc"}')!;
      expect(out).toBe(1);
    } finally {
      stream.cancel();
      g.close();
    }
    await until(async () => (await sample('realtime_connections{transport="grpc"}')) === 0, { ms: 5000, what: "the stream to be counted gone" });
    expect(await sample('realtime_transport_subscriptions{transport="grpc"}')).toBe(0);
  });
});

describe("errors and disconnects by code", () => {
  it("counts a client error reply by its code and an HTTP API error by its code", async () => {
    const ws = await TestWsClient.connect(hub.wsUrl);
    try {
      const before = await sample('realtime_client_errors_total{code="110"}');
      const r = await ws.call({ unsubscribe: { channel: "m:never" } });
      expect(r.error.code).toBe(110);
      expect(await sample('realtime_client_errors_total{code="110"}')).toBe(before + 1);
    } finally {
      ws.ws.close();
    }
    const apiBefore = await sample('realtime_api_errors_total{api="http",code="107"}');
    expect((await api("publish", { channel: "", data: {} })).status).toBe(400);
    expect(await sample('realtime_api_errors_total{api="http",code="107"}')).toBe(apiBefore + 1);
  });

  it("counts a rate-limit disconnect by its code (3501) and the refusal by limit", async () => {
    const before = await scrape(hub);
    const ws = await TestWsClient.connect(hub.wsUrl);
    ws.sendRaw(Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: 100 + i, ping: {} })).join("\n"));
    await until(() => ws.closeCode !== null, { ms: 5000, what: "the flood to close the connection" });
    const after = await scrape(hub);
    expect(ws.closeCode).toBe(3501);
    expect(after.get('realtime_disconnects_total{code="3501"}')! - (before.get('realtime_disconnects_total{code="3501"}') ?? 0)).toBe(1);
    expect(after.get('realtime_limit_refusals_total{limit="rate_flood"}')! - before.get('realtime_limit_refusals_total{limit="rate_flood"}')!).toBe(1);
  });
});

describe("recovery outcomes", () => {
  it("counts recovered, gap and too_old", async () => {
    const channel = "hist:recovery";
    let first: { offset: string; epoch: string } | undefined;
    for (let i = 1; i <= 6; i++) {
      const r = await api("publish", { channel, data: { i } });
      const body = (await r.json()) as { result?: { offset?: string; epoch?: string }; offset?: string; epoch?: string };
      const pos = body.result ?? body;
      first ??= { offset: String(pos.offset), epoch: String(pos.epoch) };
    }
    const { epoch } = first!;
    const before = await scrape(hub);
    const delta = async (outcome: string) =>
      (await sample(`realtime_recovery_total{outcome="${outcome}"}`)) - (before.get(`realtime_recovery_total{outcome="${outcome}"}`) ?? 0);
    const subscribe = async (offset: string, ep: string) => {
      const ws = await TestWsClient.connect(hub.wsUrl);
      try {
        const r = await ws.call({ subscribe: { channel, recover: true, offset, epoch: ep } });
        return { recovered: Boolean(r.subscribe.recovered) };
      } finally {
        ws.ws.close();
      }
    };
    // History keeps 3 of 6: from offset 1, publications 2 and 3 are gone.
    expect((await subscribe("1", epoch)).recovered).toBe(false);
    expect(await delta("gap")).toBe(1);
    expect((await subscribe("6", epoch)).recovered).toBe(true);
    expect(await delta("recovered")).toBe(1);
    expect((await subscribe("2", "another-epoch")).recovered).toBe(false);
    expect(await delta("too_old")).toBe(1);
  });
});
