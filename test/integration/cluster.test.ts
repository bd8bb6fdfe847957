import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHubProcess, hubApi, type HubProcess } from "../helpers/cluster.js";
import { startKafkaMock, startNatsServer, startRedisServer, rabbitMqVhost } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";

/**
 * For each broker: three hub processes that behave as one. Presence and history live in
 * Redis for every broker (nodes are stateless).
 */
interface Setup {
  args: () => string[];
  stop: () => Promise<void>;
}

const brokers: Record<string, () => Promise<Setup>> = {
  redis: async () => {
    const redis = await startRedisServer();
    return { args: () => ["--broker", "redis", "--redis-url", redis.url], stop: () => redis.stop() };
  },
  nats: async () => {
    const [nats, redis] = [await startNatsServer(), await startRedisServer()];
    return {
      args: () => ["--broker", "nats", "--nats-url", nats.url, "--presence", "redis", "--history", "redis", "--redis-url", redis.url],
      stop: async () => {
        await nats.stop();
        await redis.stop();
      },
    };
  },
  kafka: async () => {
    const kafka = await startKafkaMock(["rhc.0", "rhc.1", "rhc.2", "rhc.3"]);
    const redis = await startRedisServer();
    return {
      args: () => [
        "--broker", "kafka", "--kafka-brokers", kafka.bootstrap, "--kafka-prefix", "rhc", "--kafka-create-topics", "false",
        "--kafka-session-timeout-ms", "3000", "--kafka-heartbeat-interval-ms", "300",
        "--presence", "redis", "--history", "redis", "--redis-url", redis.url,
      ],
      stop: async () => {
        await kafka.stop();
        await redis.stop();
      },
    };
  },
  rabbitmq: async () => {
    const url = await rabbitMqVhost("rh-test");
    const redis = await startRedisServer();
    const exchange = `rhc${Math.random().toString(36).slice(2, 6)}`;
    return {
      args: () => ["--broker", "rabbitmq", "--amqp-url", url, "--amqp-exchange", exchange, "--presence", "redis", "--history", "redis", "--redis-url", redis.url],
      stop: () => redis.stop(),
    };
  },
};

async function until(cond: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitHealthy(h: HubProcess, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const info = await hubApi(h, "info", {});
    // Info lists the whole cluster: read this node's own entry.
    if (info.nodes?.find((n: { id: string }) => n.id === h.id)?.brokerHealthy) return;
    if (Date.now() > end) throw new Error(`${h.id}: broker not healthy\n${h.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const [name, setup] of Object.entries(brokers)) {
  describe(`3-node cluster on ${name}`, () => {
    let s: Setup;
    let nodes: HubProcess[] = [];
    beforeAll(async () => {
      s = await setup();
      nodes = await Promise.all(["a", "b", "c"].map((id) => startHubProcess(`${name}-${id}`, s.args())));
      await Promise.all(nodes.map((n) => waitHealthy(n)));
    }, 90_000);
    afterAll(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await s?.stop();
    });

    it("every client on every node gets every publication exactly once, in per-publisher order", async () => {
      const channel = `room:${name}`;
      const clients = await Promise.all(nodes.flatMap((n) => [TestWsClient.connect(n.wsUrl), TestWsClient.connect(n.wsUrl)]));
      for (const c of clients) await c.call({ subscribe: { channel } });
      // Presence lists the clients of all nodes.
      const ids = clients.map((c) => c.messages[0].connect.client).sort();
      for (const n of nodes) expect(Object.keys((await hubApi(n, "presence", { channel })).presence ?? {}).sort()).toEqual(ids);
      // Each node publishes 20 messages; publishers run concurrently.
      const perNode = 20;
      await Promise.all(nodes.map(async (n) => {
        for (let i = 0; i < perNode; i++) await hubApi(n, "publish", { channel, data: { from: n.id, i } });
      }));
      const total = perNode * nodes.length;
      for (const c of clients) await c.waitFor(() => c.pubs(channel).length >= total, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      for (const c of clients) {
        const pubs = c.pubs(channel);
        expect(pubs).toHaveLength(total);
        for (const n of nodes) expect(pubs.filter((p) => p.data.from === n.id).map((p) => p.data.i)).toEqual([...Array(perNode).keys()]);
        // One shared history: offsets are 1..total with no gap or repeat.
        expect(pubs.map((p) => Number(p.offset)).sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      }
      for (const c of clients) c.close();
      // Nothing consumed from the broker was published again: broker publishes = API publishes.
      const metric = async (n: HubProcess, name: string) =>
        Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, "m").exec(await (await fetch(`${n.httpUrl}/metrics`)).text())?.[1]);
      let brokerPublished = 0;
      for (const n of nodes) brokerPublished += await metric(n, "realtime_broker_published_total");
      expect(brokerPublished).toBe(total);
      // Info lists the whole cluster.
      await until(async () => (await hubApi(nodes[0]!, "info", {})).nodes.length === 3);
    });

    it("a client recovers on another node what it missed", async () => {
      const channel = `rec:${name}`;
      const c = await TestWsClient.connect(nodes[0]!.wsUrl);
      const sub = (await c.call({ subscribe: { channel } })).subscribe;
      await hubApi(nodes[1]!, "publish", { channel, data: { n: 1 } });
      await c.waitFor(() => c.pubs(channel).length === 1, 10_000);
      c.close();
      await hubApi(nodes[2]!, "publish", { channel, data: { n: 2 } });
      const again = await TestWsClient.connect(nodes[2]!.wsUrl);
      const r = await again.call({ subscribe: { channel, recover: true, epoch: sub.epoch, offset: "1" } });
      expect(r.subscribe).toMatchObject({ recovered: true, offset: "2" });
      expect(r.subscribe.publications.map((p: any) => p.data.n)).toEqual([2]);
      again.close();
    });
  });
}
