import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { brokerContract } from "../contract/broker.js";
import { RabbitMqBroker } from "../../src/broker/rabbitmq.js";
import { rabbitMqVhost } from "../helpers/processes.js";

const url = await rabbitMqVhost("rh-test");
const exchange = `rh-t${Math.random().toString(36).slice(2, 6)}`;
brokerContract("rabbitmq", async () => new RabbitMqBroker(url, exchange, pino({ level: "silent" })));

describe("RabbitMQ routing keys", () => {
  it("encode any channel so topic wildcards cannot be injected", () => {
    for (const ch of ["a.b", "#", "*.x", "chat:1"]) expect(RabbitMqBroker.routingKey(ch)).toMatch(/^ch\.[A-Za-z0-9_-]+$/);
    expect(RabbitMqBroker.routingKey("")).toBe("control");
  });
});
