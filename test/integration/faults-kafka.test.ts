import { afterAll, describe, expect, it } from "vitest";
import { startHubProcess, hubApi } from "../helpers/cluster.js";
import { brokerHealthy, until } from "../helpers/fault-checks.js";
import { startKafkaMock, startRedisServer } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("kafka faults", () => {
  it("the Kafka broker goes down and comes back: nodes stay up and delivery resumes, nothing lost", async () => {
    const kafka = await startKafkaMock(["rhf.0", "rhf.1", "rhf.2", "rhf.3"]);
    const redis = await startRedisServer();
    cleanups.push(() => kafka.stop(), () => redis.stop());
    const args = [
      "--broker", "kafka", "--kafka-brokers", kafka.bootstrap, "--kafka-prefix", "rhf", "--kafka-create-topics", "false",
      "--kafka-session-timeout-ms", "3000", "--kafka-heartbeat-interval-ms", "300",
      "--presence", "redis", "--history", "redis", "--redis-url", redis.url,
    ];
    const [a, b] = await Promise.all([startHubProcess("fkf-a", args), startHubProcess("fkf-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    await until("both consumers to join", async () => (await brokerHealthy(a)) && (await brokerHealthy(b)), 30_000);
    const x = await TestWsClient.connect(a.wsUrl);
    await x.call({ subscribe: { channel: "k:1" } });
    await hubApi(b, "publish", { channel: "k:1", data: { n: 1 } });
    await x.waitFor(() => x.pubs("k:1").length === 1, 15_000);

    kafka.down(1);
    // While the broker is down, the node reports it (the consumer loses its group).
    await until("node a to report the broker down", async () => !(await brokerHealthy(a)), 20_000);
    // Publishes meanwhile are stored in history (Redis) and retried by the producer.
    const during = hubApi(b, "publish", { channel: "k:1", data: { n: 2 } });
    expect((await fetch(`${a.httpUrl}/health`)).status).toBe(200);
    kafka.up(1);
    await during;
    await until("node a to report the broker back", async () => brokerHealthy(a), 30_000);
    await hubApi(b, "publish", { channel: "k:1", data: { n: 3 } });
    await x.waitFor(() => x.pubs("k:1").length >= 3, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(x.pubs("k:1").map((p) => p.data.n)).toEqual([1, 2, 3]);
    x.close();
  });
});
