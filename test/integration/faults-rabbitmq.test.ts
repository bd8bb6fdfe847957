import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { startHubProcess, hubApi } from "../helpers/cluster.js";
import { brokerHealthy, until } from "../helpers/fault-checks.js";
import { rabbitMqVhost, startRedisServer, which } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("rabbitmq faults", () => {
  it("the broker drops every connection of our vhost: nodes reconnect, rebind, and nothing is lost", async () => {
    const url = await rabbitMqVhost("rh-test");
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const exchange = `rhf${Math.random().toString(36).slice(2, 6)}`;
    const args = ["--broker", "rabbitmq", "--amqp-url", url, "--amqp-exchange", exchange, "--presence", "redis", "--history", "redis", "--redis-url", redis.url];
    const [a, b] = await Promise.all([startHubProcess("fq-a", args), startHubProcess("fq-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    const x = await TestWsClient.connect(a.wsUrl);
    await x.call({ subscribe: { channel: "q:1" } });
    await hubApi(b, "publish", { channel: "q:1", data: { n: 1 } });
    await x.waitFor(() => x.pubs("q:1").length === 1, 10_000);

    // Server-side close of our vhost's connections only (the machine's broker is shared).
    execFileSync(which("rabbitmqctl")!, ["close_all_connections", "--vhost", "rh-test", "fault test"], { stdio: "ignore" });
    await hubApi(b, "publish", { channel: "q:1", data: { n: 2 } });
    await until("both nodes to reconnect", async () => (await brokerHealthy(a)) && (await brokerHealthy(b)), 20_000);
    await hubApi(b, "publish", { channel: "q:1", data: { n: 3 } });
    await x.waitFor(() => x.pubs("q:1").length >= 3, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(x.pubs("q:1").map((p) => p.data.n)).toEqual([1, 2, 3]);
    expect(a.output()).toMatch(/rabbitmq connection lost/);
    x.close();
  });
});
