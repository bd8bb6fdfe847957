import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHubProcess, hubApi, type HubProcess } from "../helpers/cluster.js";
import { startKafkaMock, startNatsServer, startRedisServer, rabbitMqVhost } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { tapKafka, tapNats, tapRabbitMq, tapRedis, type BrokerTap } from "../helpers/broker-taps.js";
import { signToken } from "../../src/auth/jwt.js";
import { until } from "../helpers/until.js";

/** Every node verifies the same connection tokens (anonymous connections stay allowed: --dev). */
const SECRET = "cluster-secret";

/**
 * For each broker: three hub processes that behave as one. Presence and history live in
 * Redis for every broker (nodes are stateless). A tap on the broker itself (test/helpers/
 * broker-taps.ts), started before the nodes, sees everything they send through it.
 */
interface Setup {
  args: () => string[];
  /** Starts listening to everything the hub sends through the broker. */
  tap: () => Promise<BrokerTap>;
  stop: () => Promise<void>;
}

const brokers: Record<string, () => Promise<Setup>> = {
  redis: async () => {
    const redis = await startRedisServer();
    return { args: () => ["--broker", "redis", "--redis-url", redis.url], tap: () => tapRedis(redis.url, "rh"), stop: () => redis.stop() };
  },
  nats: async () => {
    const [nats, redis] = [await startNatsServer(), await startRedisServer()];
    return {
      args: () => ["--broker", "nats", "--nats-url", nats.url, "--presence", "redis", "--history", "redis", "--redis-url", redis.url],
      tap: () => tapNats(nats.url, "rh"),
      stop: async () => {
        await nats.stop();
        await redis.stop();
      },
    };
  },
  kafka: async () => {
    const topics = ["rhc.0", "rhc.1", "rhc.2", "rhc.3"];
    const kafka = await startKafkaMock(topics);
    const redis = await startRedisServer();
    return {
      args: () => [
        "--broker", "kafka", "--kafka-brokers", kafka.bootstrap, "--kafka-prefix", "rhc", "--kafka-create-topics", "false",
        "--kafka-session-timeout-ms", "3000", "--kafka-heartbeat-interval-ms", "300",
        "--presence", "redis", "--history", "redis", "--redis-url", redis.url,
      ],
      // Joins its group (~3 s on the mock) while the nodes start.
      tap: () => tapKafka(kafka.bootstrap, topics),
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
      tap: () => tapRabbitMq(url, exchange),
      stop: () => redis.stop(),
    };
  },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a count must stay put to count as settled: a loop would re-publish within it. */
const QUIET_MS = 1500;

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
    let tap: BrokerTap | undefined;
    let nodes: HubProcess[] = [];
    beforeAll(async () => {
      s = await setup();
      // Before the nodes: the tap hears their first announcements too.
      const tapping = s.tap().then((t) => (tap = t));
      tapping.catch(() => undefined);
      nodes = await Promise.all(["a", "b", "c"].map((id) => startHubProcess(`${name}-${id}`, [...s.args(), "--token-hmac-secret", SECRET])));
      await tapping;
      await Promise.all(nodes.map((n) => waitHealthy(n)));
    }, 90_000);
    afterAll(async () => {
      await tap?.close();
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
      // Nothing consumed from the broker was published again, counted on the broker itself:
      // exactly one publication envelope per API publish, from the node that took it, and no
      // more after a quiet period (a node re-publishing what it consumed would keep adding).
      const t = tap!;
      await until(async () => t.publications().length >= total, 20_000).catch(() => undefined);
      await sleep(QUIET_MS);
      expect(t.undecodable).toEqual([]);
      expect(t.publications(channel).length, t.summary()).toBe(total);
      expect(t.publications().length, t.summary()).toBe(total);
      const sent = nodes.flatMap((n) => Array.from({ length: perNode }, (_, i) => `${n.id} ${n.id} ${i}`)).sort();
      const tapped = t.publications().map((e) => {
        const d = JSON.parse(Buffer.from(e.envelope.publication!.data).toString());
        return `${e.origin} ${d.from} ${d.i}`;
      });
      expect(tapped.sort()).toEqual(sent);
      // Joins went through once per subscriber too (a re-published join would be a loop as well).
      expect(t.seen.filter((e) => e.kind === "join" && e.channel === channel).length, t.summary()).toBe(clients.length);
      // Control envelopes (empty channel) are counted apart: each node announces itself, and the
      // tap hears all three, so it does listen where the nodes publish.
      await until(async () => new Set(t.controls().map((e) => e.origin)).size === nodes.length, 15_000);
      expect(new Set(t.controls().map((e) => e.origin))).toEqual(new Set(nodes.map((n) => n.id)));
      expect(t.controls().every((e) => e.kind === "control")).toBe(true);
      // The nodes' own counters agree.
      const metric = async (n: HubProcess, name: string) =>
        Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, "m").exec(await (await fetch(`${n.httpUrl}/metrics`)).text())?.[1]);
      let brokerPublished = 0;
      for (const n of nodes) brokerPublished += await metric(n, "realtime_broker_published_total");
      expect(brokerPublished).toBe(total);
      // Info lists the whole cluster.
      await until(async () => (await hubApi(nodes[0]!, "info", {})).nodes.length === 3, 15_000);
    }, 60_000);

    it("Unsubscribe and Disconnect through one node reach the user's connections on the others", async () => {
      const user = `u-${name}`;
      const channel = `ctl:${name}`;
      const token = await signToken(SECRET, { sub: user });
      const [onB, onC] = [await TestWsClient.connect(nodes[1]!.wsUrl, token), await TestWsClient.connect(nodes[2]!.wsUrl, token)];
      const bystander = await TestWsClient.connect(nodes[2]!.wsUrl);
      for (const c of [onB, onC, bystander]) await c.call({ subscribe: { channel } });
      await hubApi(nodes[0]!, "unsubscribe", { user, channel });
      for (const c of [onB, onC])
        expect((await c.waitFor((m) => m.push?.unsubscribe, 10_000)).push).toMatchObject({ channel, unsubscribe: { code: 2000 } });
      await hubApi(nodes[0]!, "disconnect", { user, reason: "bye" });
      for (const c of [onB, onC]) {
        expect((await c.waitFor((m) => m.push?.disconnect, 10_000)).push.disconnect).toMatchObject({ code: 3504, reason: "bye" });
        expect(await c.waitClosed()).toBe(3504);
      }
      // Someone else's connection on the same node keeps its subscription.
      await hubApi(nodes[0]!, "publish", { channel, data: { still: true } });
      await bystander.waitFor(() => bystander.pubs(channel).length === 1, 10_000);
      bystander.close();
    });

    it("Channels on one node lists the channels of every node, with their subscribers summed", async () => {
      const [one, two] = [`chan:${name}:1`, `chan:${name}:2`];
      // Node a waits for the peers it has heard announce themselves (every 5 s).
      await until(async () => (await hubApi(nodes[0]!, "info", {})).nodes.length === 3, 15_000);
      const where = [nodes[0]!, nodes[1]!, nodes[1]!, nodes[2]!];
      const clients = await Promise.all(where.map((n) => TestWsClient.connect(n.wsUrl)));
      const channels = [one, one, two, two];
      for (const [i, c] of clients.entries()) await c.call({ subscribe: { channel: channels[i] } });
      // No `truncated`, no `missingNodes`: every node answered within the deadline.
      expect(await hubApi(nodes[0]!, "channels", { pattern: `chan:${name}:*` })).toEqual({
        channels: { [one]: { numClients: 2 }, [two]: { numClients: 2 } },
      });
      for (const c of clients) c.close();
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
