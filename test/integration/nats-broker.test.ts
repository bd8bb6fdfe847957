import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { NatsBroker } from "../../src/broker/nats.js";
import { PublishBacklogFull } from "../../src/broker/pending-bound.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { stall, startNatsServer, type ServerProcess } from "../helpers/processes.js";
import { until } from "../helpers/until.js";
import { pendingBounds } from "../helpers/broker-bounds.js";

let server: ServerProcess & { url: string };
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => server?.stop());

const prefix = `t${Math.random().toString(36).slice(2, 6)}`;
brokerContract("nats", async () => new NatsBroker(server.url, prefix, pino({ level: "silent" }), pendingBounds()));

describe("NATS subjects", () => {
  it("encode any channel as one token: no wildcard or token injection", () => {
    for (const ch of ["a.b", "x.>", "*", "chat:1", "a..b"]) {
      const subject = NatsBroker.subject("rh", ch);
      const token = subject.slice("rh.ch.".length);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(token, "base64url").toString()).toBe(ch);
    }
    expect(NatsBroker.subject("rh", "")).toBe("rh.control");
  });
});

describe("NATS outage", () => {
  it("fails publishes fast while disconnected and works again after the server is back", async () => {
    // A server of its own: killing the shared one would disturb the contract suite.
    const own = await startNatsServer();
    const a = new NatsBroker(own.url, prefix, pino({ level: "silent" }), pendingBounds());
    const b = new NatsBroker(own.url, prefix, pino({ level: "silent" }), pendingBounds());
    const got: BrokerEnvelope[] = [];
    try {
      await a.start(() => undefined);
      await b.start((e) => got.push(e));
      await b.subscribe("outage");
      const env = (n: number): BrokerEnvelope => ({ origin: "a", channel: "outage", publication: { data: Buffer.from(String(n)), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" } });

      await own.kill9();
      await until(() => !a.healthy());
      const t0 = Date.now();
      await expect(a.publish(env(1))).rejects.toThrow(/nats is not connected/);
      expect(Date.now() - t0).toBeLessThan(100);

      await own.start();
      await until(() => a.healthy() && b.healthy());
      // b resubscribes on reconnect; its SUB may land just after a's first publish.
      await until(() => {
        void a.publish(env(2)).catch(() => undefined);
        return got.length > 0;
      });
      expect(got.every((e) => e.publication!.data.toString() === "2")).toBe(true);
    } finally {
      await a.close();
      await b.close();
      await own.stop();
    }
  }, 30_000);
});

const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * Publishes a few at a time, yielding to the event loop between batches, for `ms`. Returns
 * the numbers of the accepted publishes and the errors of the refused ones.
 */
async function flood(publish: (n: number) => Promise<unknown>, ms: number, watch: () => void) {
  const accepted: number[] = [];
  const errors: unknown[] = [];
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 20; i++, n++) {
      const id = n;
      publish(id).then(
        () => accepted.push(id),
        (err) => errors.push(err),
      );
    }
    await tick();
    watch();
  }
  return { accepted, errors, sent: n };
}

describe("NATS connected but not reading", () => {
  it("fails publishes past the count and byte limits until a flush comes back, and delivers what it accepted", async () => {
    // A server of its own, stopped for under a second at a time: nats.js declares a server
    // stale only after maxPingOut unanswered pings of 10 s each.
    const own = await startNatsServer();
    const pid = own.pid;
    const a = new NatsBroker(own.url, prefix, pino({ level: "silent" }), pendingBounds({ maxPending: 40, maxPendingBytes: 32 * 1024 }));
    const b = new NatsBroker(own.url, prefix, pino({ level: "silent" }), pendingBounds());
    const got: string[] = [];
    const env = (data: string | Buffer): BrokerEnvelope => ({ origin: "a", channel: "slow", publication: { data: Buffer.from(data), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" } });
    let most = { count: 0, bytes: 0 };
    const watch = () => {
      const now = a.pendingPublishes();
      most = { count: Math.max(most.count, now.count), bytes: Math.max(most.bytes, now.bytes) };
    };
    const outMsgs = () => (a as unknown as { nc: { stats(): { outMsgs: number } } }).nc.stats().outMsgs;
    try {
      await a.start(() => undefined);
      await b.start((e) => got.push(e.publication!.data.toString()));
      await b.subscribe("slow");

      // Count: nothing is confirmed while the server is stopped.
      await stall(pid);
      const before = outMsgs();
      const small = await flood((n) => a.publish(env(`s${n}`)), 500, watch);
      expect(small.sent).toBeGreaterThan(200);
      expect(small.accepted).toHaveLength(40);
      expect(small.errors).toHaveLength(small.sent - 40);
      expect(small.errors[0]).toBeInstanceOf(PublishBacklogFull);
      expect(small.errors[0]).toMatchObject({ temporary: true, message: expect.stringMatching(/^nats publish backlog full: 40 publishes unanswered, limit 40/) });
      expect(most.count).toBe(40);
      // What nats.js was handed: the accepted publishes only.
      expect(outMsgs() - before).toBe(40);

      process.kill(pid, "SIGCONT");
      await until(() => got.length >= 40);
      await until(() => a.pendingPublishes().count === 0);
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toEqual(small.accepted.map((n) => `s${n}`));

      // Bytes: 2 KiB payloads against 32 KiB.
      got.length = 0;
      most = { count: 0, bytes: 0 };
      await stall(pid);
      const big = await flood((n) => a.publish(env(Buffer.alloc(2048, (n % 26) + 97))), 300, watch);
      expect(big.accepted.length).toBeGreaterThan(10);
      expect(big.accepted.length).toBeLessThan(17);
      expect(most.bytes).toBeLessThanOrEqual(32 * 1024);
      expect(big.errors).toHaveLength(big.sent - big.accepted.length);
      expect(big.errors[0]).toMatchObject({ temporary: true, message: expect.stringMatching(/^nats publish backlog full: \d+ bytes would be unanswered, limit 32768/) });
      process.kill(pid, "SIGCONT");
      await until(() => got.length >= big.accepted.length);
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toHaveLength(big.accepted.length);

      // Publishing works again.
      expect(a.healthy()).toBe(true);
      await until(() => a.pendingPublishes().bytes < 4096);
      await a.publish(env("after"));
      await until(() => got.includes("after"));
    } finally {
      process.kill(pid, "SIGCONT");
      await a.close();
      await b.close();
      await own.stop();
    }
  }, 30_000);
});
