import { afterAll, describe, expect, it } from "vitest";
import { startHubProcess, hubApi } from "../helpers/cluster.js";
import { brokerHealthy, health } from "../helpers/fault-checks.js";
import { until } from "../helpers/until.js";
import { startNatsServer, startRedisServer } from "../helpers/processes.js";
import { TestWsClient } from "../helpers/ws-client.js";
import { grpcClient } from "../helpers/grpc-client.js";
import type { SubscribeResponse } from "../../src/gen/realtime/v1/hub.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("broker faults", () => {
  it("redis killed -9 and restarted: nodes stay up, report it, reconnect; clients learn of the gap", async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const args = ["--broker", "redis", "--redis-url", redis.url];
    const [a, b] = await Promise.all([startHubProcess("fr-a", args), startHubProcess("fr-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    const x = await TestWsClient.connect(a.wsUrl);
    const sub = (await x.call({ subscribe: { channel: "f:1" } })).subscribe;
    // A backend listener on node a stays subscribed through the outage (nobody disconnects
    // it): what reaches it afterwards came through node a's resubscribed pub/sub channel.
    const g = grpcClient(a.grpcAddr);
    cleanups.push(async () => g.close());
    const events: SubscribeResponse[] = [];
    const listener = g.client.subscribe({ channels: ["f:1"], clientPublicationsOnly: false, joinLeave: false }, g.md());
    listener.on("data", (e: SubscribeResponse) => events.push(e));
    listener.on("error", () => undefined);
    cleanups.push(async () => listener.cancel());
    await until(async () => Object.keys((await hubApi(a, "channels", { pattern: "f:1" })).channels ?? {}).length > 0, { what: "the listener to be subscribed", ms: 20_000, everyMs: 100 });
    await hubApi(b, "publish", { channel: "f:1", data: { n: 1 } });
    await x.waitFor(() => x.pubs("f:1").length === 1);
    await until(async () => events.length === 1, { what: "the listener to get n=1", ms: 20_000, everyMs: 100 });

    await redis.kill9();
    await until(async () => !(await brokerHealthy(a)) && !(await health(a)), { what: "node a to report the broker down", ms: 20_000, everyMs: 100 });
    // Publishing into a history channel needs Redis: a clear temporary error, the node stays up.
    const during = await fetch(`${b.httpUrl}/api/publish`, { method: "POST", body: JSON.stringify({ channel: "f:1", data: { n: 2 } }), headers: { "Content-Type": "application/json" } });
    expect(during.status).toBe(503);
    expect((await during.json()).error).toMatchObject({ code: 100, temporary: true, message: expect.stringMatching(/redis unavailable/) });

    await redis.start(); // same port, empty: the stream is gone, so its epoch changes
    await until(async () => (await brokerHealthy(a)) && (await brokerHealthy(b)), { what: "both nodes to reconnect", ms: 20_000, everyMs: 100 });
    // The node saw it cannot fill the gap for X: X is told to reconnect and recover.
    const d = await x.waitFor((m) => m.push?.disconnect, 15_000);
    expect(d.push.disconnect).toMatchObject({ code: 3010, reconnect: true });
    const again = await TestWsClient.connect(a.wsUrl);
    const r = await again.call({ subscribe: { channel: "f:1", recover: true, epoch: sub.epoch, offset: "1" } });
    expect(r.subscribe.recovered).toBeFalsy();
    // Delivery resumes.
    await until(async () => (await hubApi(b, "publish", { channel: "f:1", data: { n: 3 } })) && true, { what: "publish to work again", ms: 20_000, everyMs: 100 });
    await again.waitFor(() => again.pubs("f:1").some((p) => p.data.n === 3));
    await until(async () =>
      events.some((e) => JSON.parse(Buffer.from(e.publication!.data).toString()).n === 3), { what: "the listener to get n=3 after the resubscribe", ms: 20_000, everyMs: 100 });
    again.close();
  });

  it("nats killed -9 and restarted: the publishing node keeps serving its clients, the others get what they missed exactly once", async () => {
    const [nats, redis] = [await startNatsServer(), await startRedisServer()];
    cleanups.push(() => nats.stop(), () => redis.stop());
    const args = ["--broker", "nats", "--nats-url", nats.url, "--presence", "redis", "--history", "redis", "--redis-url", redis.url];
    const [a, b] = await Promise.all([startHubProcess("fn-a", args), startHubProcess("fn-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    const x = await TestWsClient.connect(a.wsUrl);
    await x.call({ subscribe: { channel: "g:1" } });
    // y is on the publishing node: it keeps being served while the broker is down.
    const y = await TestWsClient.connect(b.wsUrl);
    await y.call({ subscribe: { channel: "g:1" } });
    await hubApi(b, "publish", { channel: "g:1", data: { n: 1 } });
    await x.waitFor(() => x.pubs("g:1").length === 1);

    await nats.kill9();
    await until(async () => !(await brokerHealthy(a)), { what: "node a to report the broker down", ms: 20_000, everyMs: 100 });
    await until(async () =>
      !(await health(b)) && /^realtime_broker_healthy\{node="fn-b"\} 0$/m.test(await (await fetch(`${b.httpUrl}/metrics`)).text()), { what: "node b to report it on /health and /metrics", ms: 20_000, everyMs: 100 });
    // History is in Redis, which is up: the publish is stored and acknowledged.
    for (const n of [2, 3]) await hubApi(b, "publish", { channel: "g:1", data: { n } });
    await y.waitFor(() => y.pubs("g:1").length === 3, 5_000);
    expect(x.pubs("g:1").map((p) => p.data.n)).toEqual([1]);
    await nats.start();
    await until(async () => (await brokerHealthy(a)) && (await brokerHealthy(b)), { what: "both nodes to reconnect", ms: 20_000, everyMs: 100 });
    await x.waitFor(() => x.pubs("g:1").length >= 3, 15_000);
    await hubApi(b, "publish", { channel: "g:1", data: { n: 4 } });
    await x.waitFor(() => x.pubs("g:1").length >= 4, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(x.pubs("g:1").map((p) => p.data.n)).toEqual([1, 2, 3, 4]);
    expect(y.pubs("g:1").map((p) => p.data.n)).toEqual([1, 2, 3, 4]);
    x.close();
    y.close();
  });
});

describe("node faults", () => {
  it("a node killed -9: its presence entries expire on the others within the TTL", async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const args = ["--broker", "redis", "--redis-url", redis.url, "--presence-ttl-seconds", "2"];
    const [a, b] = await Promise.all([startHubProcess("fk-a", args), startHubProcess("fk-b", args)]);
    cleanups.push(() => a.stop(), () => b.stop());
    const onA = await TestWsClient.connect(a.wsUrl);
    const onB = await TestWsClient.connect(b.wsUrl);
    await onA.call({ subscribe: { channel: "p:1" } });
    await onB.call({ subscribe: { channel: "p:1" } });
    const idB = onB.messages[0].connect.client;
    const idA = onA.messages[0].connect.client;
    expect(Object.keys((await hubApi(a, "presence", { channel: "p:1" })).presence).sort()).toEqual([idA, idB].sort());
    await b.kill9();
    const killedAt = Date.now();
    await until(async () => {
      const p = (await hubApi(a, "presence", { channel: "p:1" })).presence;
      return !(idB in p) && idA in p;
    }, { what: "b's client to leave presence", ms: 10_000, everyMs: 100 });
    // Within the TTL (2 s) plus one refresh period of slack; a's own entry stays refreshed.
    expect(Date.now() - killedAt).toBeLessThan(4000);
    await new Promise((r) => setTimeout(r, 2500));
    expect(Object.keys((await hubApi(a, "presence", { channel: "p:1" })).presence)).toEqual([idA]);
    onA.close();
  });
});
