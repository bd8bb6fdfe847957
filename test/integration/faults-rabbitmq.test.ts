import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHubProcess, hubApi, type HubProcess } from "../helpers/cluster.js";
import { brokerHealthy, health, metric } from "../helpers/fault-checks.js";
import { until } from "../helpers/until.js";
import { startRedisServer } from "../helpers/processes.js";
import { rabbitMqServerMissing, startRabbitMqServer, type RabbitMqServer } from "../helpers/rabbitmq-server.js";
import { requireTools } from "../helpers/require.js";
import { TestWsClient } from "../helpers/ws-client.js";

const missing = rabbitMqServerMissing();
const canRun = requireTools("RabbitMQ fault tests", { [missing ?? "rabbitmq-server"]: missing === null });

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const ns = (c: TestWsClient, channel: string) => c.pubs(channel).map((p) => p.data.n);
const offsets = (c: TestWsClient, channel: string) => c.pubs(channel).map((p) => Number(p.offset));
const allNodes = async (nodes: HubProcess[], ok: (h: HubProcess) => Promise<boolean>) => (await Promise.all(nodes.map(ok))).every(Boolean);

/**
 * A RabbitMQ node of the test's own (test/helpers/rabbitmq-server.ts), never the machine's
 * shared service: it is killed -9 and restarted on the same port and data directory.
 */
describe.runIf(canRun)("rabbitmq faults", () => {
  let rabbit: RabbitMqServer;
  let a: HubProcess, b: HubProcess, c: HubProcess;
  let nodes: HubProcess[];

  beforeAll(async () => {
    const [r, redis] = await Promise.all([startRabbitMqServer(), startRedisServer()]);
    rabbit = r;
    cleanups.push(() => redis.stop(), () => rabbit.stop());
    console.info(`private RabbitMQ node ${rabbit.nodename} started in ${rabbit.lastStartMs} ms`);
    const args = ["--broker", "rabbitmq", "--amqp-url", rabbit.url, "--amqp-exchange", "rhf", "--presence", "redis", "--history", "redis", "--redis-url", redis.url];
    nodes = await Promise.all(["fq-a", "fq-b", "fq-c"].map((id) => startHubProcess(id, args)));
    [a, b, c] = nodes as [HubProcess, HubProcess, HubProcess];
    cleanups.push(...nodes.map((n) => () => n.stop()));
  }, 90_000);

  it("the broker killed -9 and restarted: nodes stay up and report it, publishes are kept, missed publications are filled once, in order", async () => {
    const ch = "q:1";
    const x = await TestWsClient.connect(a.wsUrl); // stays connected through the outage
    const z = await TestWsClient.connect(b.wsUrl); // on the node that publishes
    const v = await TestWsClient.connect(c.wsUrl); // leaves during the outage and recovers later
    for (const cl of [x, z, v]) await cl.call({ subscribe: { channel: ch } });
    const p1 = await hubApi(b, "publish", { channel: ch, data: { n: 1 } });
    for (const cl of [x, z, v]) await cl.waitFor(() => cl.pubs(ch).length === 1, 10_000);
    v.close();

    const beam = rabbit.pid!;
    await rabbit.kill9();
    expect(() => process.kill(beam, 0)).toThrow(); // the Erlang VM itself is gone
    await until(() =>
      allNodes(nodes, async (n) => !(await brokerHealthy(n)) && !(await health(n))), { what: "every node to report the broker down (Info and /health)", ms: 10_000, everyMs: 100 });

    // Meanwhile: history is in Redis, which is up, so a publish is stored and acknowledged with
    // its offset; the broker publish fails at once (counted) and only b's own clients get it.
    const failures = await metric(b, "realtime_broker_publish_failures_total");
    const p2 = await hubApi(b, "publish", { channel: ch, data: { n: 2 } });
    const p3 = await hubApi(b, "publish", { channel: ch, data: { n: 3 } });
    expect([p2, p3]).toEqual([{ offset: "2", epoch: p1.epoch }, { offset: "3", epoch: p1.epoch }]);
    expect(await metric(b, "realtime_broker_publish_failures_total")).toBeGreaterThanOrEqual(failures + 2);
    await z.waitFor(() => z.pubs(ch).length === 3);
    // A subscribe while the broker is down succeeds; the node binds the channel when it is back.
    const w = await TestWsClient.connect(a.wsUrl);
    expect((await w.call({ subscribe: { channel: "q:2" } })).error).toBeUndefined();
    expect(ns(x, ch)).toEqual([1]); // a is cut off
    for (const n of nodes) expect(n.output()).toMatch(/rabbitmq connection lost; reconnecting/);

    await rabbit.start(); // same port, same data directory
    console.info(`private RabbitMQ node restarted in ${rabbit.lastStartMs} ms`);
    await until(() => allNodes(nodes, async (n) => (await brokerHealthy(n)) && (await health(n))), { what: "every node to reconnect (Info and /health)", ms: 20_000, everyMs: 100 });
    // a fills what it missed from history as it reconnects: 2 and 3, once each, in order, and x
    // is not told to recover (history had everything).
    await x.waitFor(() => x.pubs(ch).length === 3, 10_000);
    // A client that was away recovers the same publications on another node.
    const v2 = await TestWsClient.connect(c.wsUrl);
    const r = (await v2.call({ subscribe: { channel: ch, recover: true, epoch: p1.epoch, offset: "1" } })).subscribe;
    expect(r).toMatchObject({ recovered: true, epoch: p1.epoch, offset: "3" });
    expect(r.publications.map((p: { data: { n: number } }) => p.data.n)).toEqual([2, 3]);

    // Delivery resumes, both ways, to clients on every node (v2's node c rebinds for it).
    await hubApi(b, "publish", { channel: ch, data: { n: 4 } });
    await hubApi(a, "publish", { channel: ch, data: { n: 5 } });
    await hubApi(c, "publish", { channel: "q:2", data: { n: 1 } });
    for (const cl of [x, z]) await cl.waitFor(() => cl.pubs(ch).length >= 5, 10_000);
    await v2.waitFor(() => v2.pubs(ch).length >= 2, 10_000);
    await w.waitFor(() => w.pubs("q:2").length === 1, 10_000);
    await new Promise((res) => setTimeout(res, 500)); // room for a duplicate to show up
    for (const cl of [x, z]) {
      expect(ns(cl, ch)).toEqual([1, 2, 3, 4, 5]);
      expect(offsets(cl, ch)).toEqual([1, 2, 3, 4, 5]);
      expect(cl.messages.filter((m) => m.push?.disconnect)).toEqual([]);
    }
    expect(ns(v2, ch)).toEqual([4, 5]);
    expect(ns(w, "q:2")).toEqual([1]);
    for (const cl of [x, z, v2, w]) cl.close();
  }, 60_000);

  it("the broker closes every connection (as at a clean shutdown): nodes reconnect, rebind, and nothing is lost", async () => {
    const ch = "q:3";
    const x = await TestWsClient.connect(a.wsUrl);
    await x.call({ subscribe: { channel: ch } });
    await hubApi(b, "publish", { channel: ch, data: { n: 1 } });
    await x.waitFor(() => x.pubs(ch).length === 1, 10_000);

    await rabbit.ctl("close_all_connections", "fault test");
    // Published while the nodes reconnect: sent or not, a delivers it once, in order.
    await hubApi(b, "publish", { channel: ch, data: { n: 2 } });
    await until(() => allNodes(nodes, brokerHealthy), { what: "every node to reconnect", ms: 20_000, everyMs: 100 });
    await hubApi(b, "publish", { channel: ch, data: { n: 3 } });
    await x.waitFor(() => x.pubs(ch).length >= 3, 15_000);
    await new Promise((res) => setTimeout(res, 500));
    expect(ns(x, ch)).toEqual([1, 2, 3]);
    expect(a.output()).toMatch(/CONNECTION_FORCED - fault test/);
    x.close();
  }, 30_000);
});
