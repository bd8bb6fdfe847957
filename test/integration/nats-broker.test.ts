import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { NatsBroker } from "../../src/broker/nats.js";
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
