import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { NatsBroker } from "../../src/broker/nats.js";
import type { BrokerEnvelope } from "../../src/gen/realtime/v1/broker.js";
import { startNatsServer, type ServerProcess } from "../helpers/processes.js";

let server: ServerProcess & { url: string };
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => server?.stop());

const prefix = `t${Math.random().toString(36).slice(2, 6)}`;
brokerContract("nats", async () => new NatsBroker(server.url, prefix, pino({ level: "silent" })));

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

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("NATS outage", () => {
  it("fails publishes fast while disconnected and works again after the server is back", async () => {
    // A server of its own: killing the shared one would disturb the contract suite.
    const own = await startNatsServer();
    const a = new NatsBroker(own.url, prefix, pino({ level: "silent" }));
    const b = new NatsBroker(own.url, prefix, pino({ level: "silent" }));
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
