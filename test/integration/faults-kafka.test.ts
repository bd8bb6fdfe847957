import { afterAll, describe, expect, it } from "vitest";
import { startHubProcess, hubApi, type HubProcess } from "../helpers/cluster.js";
import { brokerHealthy, health, metric } from "../helpers/fault-checks.js";
import { until } from "../helpers/until.js";
import { startKafkaMock, startRedisServer } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const hubArgs = (bootstrap: string, prefix: string, redisUrl: string) => [
  "--broker", "kafka", "--kafka-brokers", bootstrap, "--kafka-prefix", prefix, "--kafka-create-topics", "false",
  "--kafka-session-timeout-ms", "3000", "--kafka-heartbeat-interval-ms", "300",
  "--presence", "redis", "--history", "redis", "--redis-url", redisUrl,
];

/** The node reports the broker as `healthy` both in Info (its own entry) and on /health. */
const reports = async (h: HubProcess, healthy: boolean) => (await brokerHealthy(h)) === healthy && (await health(h)) === healthy;


describe("kafka faults", () => {
  it("kill -9 of the Kafka broker mid-run, restarted empty on the same port: nodes stay up, report it, reconnect, and clients miss nothing", async () => {
    const topics = ["rhk9.0", "rhk9.1", "rhk9.2", "rhk9.3"];
    const kafka = await startKafkaMock(topics);
    const redis = await startRedisServer();
    cleanups.push(() => kafka.stop(), () => redis.stop());
    const args = hubArgs(kafka.bootstrap, "rhk9", redis.url);
    const [a, b] = await Promise.all([startHubProcess("fk9-a", args), startHubProcess("fk9-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    await until(async () => (await reports(a, true)) && (await reports(b, true)), { what: "both consumers to join", ms: 30_000, everyMs: 100 });
    const ch = "k:9";
    // x stays connected on a through the outage; y is on b, the node that publishes; z leaves
    // during the outage and comes back to recover.
    const x = await TestWsClient.connect(a.wsUrl);
    const y = await TestWsClient.connect(b.wsUrl);
    const z = await TestWsClient.connect(a.wsUrl);
    for (const c of [x, y, z]) expect((await c.call({ subscribe: { channel: ch, recover: true } })).error).toBeUndefined();
    const p1 = await hubApi(b, "publish", { channel: ch, data: { n: 1 } });
    for (const c of [x, y, z]) await c.waitFor(() => c.pubs(ch).length === 1, 15_000);
    z.close();

    const failuresBefore = await metric(b, "realtime_broker_publish_failures_total");
    await kafka.kill9();
    // Publishes go on: each is stored in history (Redis) and acknowledged with the next offset;
    // the broker publish fails (logged, counted) and the publishing node delivers locally.
    for (const n of [2, 3, 4]) expect(await hubApi(b, "publish", { channel: ch, data: { n } })).toEqual({ offset: String(n), epoch: p1.epoch });
    await y.waitFor(() => y.pubs(ch).length === 4, 5000);
    await until(async () => (await metric(b, "realtime_broker_publish_failures_total")) >= failuresBefore + 3, { what: "b's sends of the outage publications to fail", ms: 20_000, everyMs: 100 });
    await until(async () => (await reports(a, false)) && (await reports(b, false)), { what: "both nodes to report the broker down", ms: 20_000, everyMs: 100 });
    for (const h of [a, b]) expect((await fetch(`${h.httpUrl}/health`)).status).toBe(200);
    expect(x.pubs(ch).map((p) => p.data.n)).toEqual([1]);

    await kafka.start();
    await until(async () => (await reports(a, true)) && (await reports(b, true)), { what: "both nodes to report the broker back", ms: 30_000, everyMs: 100 });
    // The restarted cluster has none of the lost sends: a fills x's gap from history on its
    // own, before anything new is published into the channel.
    await x.waitFor(() => x.pubs(ch).length === 4, 15_000);
    await hubApi(b, "publish", { channel: ch, data: { n: 5 } });
    await hubApi(a, "publish", { channel: ch, data: { n: 6 } });
    for (const c of [x, y]) await c.waitFor(() => c.pubs(ch).length >= 6, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    for (const c of [x, y]) {
      expect(c.pubs(ch).map((p) => p.data.n)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(c.pubs(ch).map((p) => p.offset)).toEqual(["1", "2", "3", "4", "5", "6"]);
    }
    // A client that was away recovers the outage's publications from history.
    const z2 = await TestWsClient.connect(a.wsUrl);
    const r = await z2.call({ subscribe: { channel: ch, recover: true, epoch: p1.epoch, offset: "1" } });
    expect(r.subscribe.recovered).toBe(true);
    expect(r.subscribe.publications.map((p: { data: { n: number } }) => p.data.n)).toEqual([2, 3, 4, 5, 6]);
    expect(a.output()).toMatch(/kafka send failed/);
    expect(a.output()).toMatch(/filling what was missed from history/);
    for (const c of [x, y, z2]) c.close();
  }, 90_000);

  it("the Kafka broker refuses connections and comes back with its log: nodes stay up and delivery resumes, nothing lost", async () => {
    const kafka = await startKafkaMock(["rhf.0", "rhf.1", "rhf.2", "rhf.3"]);
    const redis = await startRedisServer();
    cleanups.push(() => kafka.stop(), () => redis.stop());
    const args = hubArgs(kafka.bootstrap, "rhf", redis.url);
    const [a, b] = await Promise.all([startHubProcess("fkf-a", args), startHubProcess("fkf-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    await until(async () => (await brokerHealthy(a)) && (await brokerHealthy(b)), { what: "both consumers to join", ms: 30_000, everyMs: 100 });
    const x = await TestWsClient.connect(a.wsUrl);
    await x.call({ subscribe: { channel: "k:1" } });
    await hubApi(b, "publish", { channel: "k:1", data: { n: 1 } });
    await x.waitFor(() => x.pubs("k:1").length === 1, 15_000);

    kafka.down(1);
    // While the broker is down, the node reports it (the consumer loses its group).
    await until(async () => !(await brokerHealthy(a)), { what: "node a to report the broker down", ms: 20_000, everyMs: 100 });
    // Publishes meanwhile are stored in history (Redis) and retried by the producer.
    const during = hubApi(b, "publish", { channel: "k:1", data: { n: 2 } });
    expect((await fetch(`${a.httpUrl}/health`)).status).toBe(200);
    kafka.up(1);
    await during;
    await until(async () => brokerHealthy(a), { what: "node a to report the broker back", ms: 30_000, everyMs: 100 });
    await hubApi(b, "publish", { channel: "k:1", data: { n: 3 } });
    await x.waitFor(() => x.pubs("k:1").length >= 3, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(x.pubs("k:1").map((p) => p.data.n)).toEqual([1, 2, 3]);
    x.close();
  }, 60_000);
});
